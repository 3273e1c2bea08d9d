using System.IO.MemoryMappedFiles;

namespace Replicator.Qemu.Ram;

/// <summary>
/// The guest's RAM as QEMU holds it: a file (on tmpfs) that QEMU maps shared
/// (<c>memory-backend-file,share=on</c>), mapped here too, read-only, so a paused guest's memory
/// can be compared without QEMU copying it anywhere. Also writes a whole RAM image into the file
/// before a QEMU that restores a checkpoint starts on it.
/// </summary>
public sealed unsafe class GuestRamFile : IDisposable
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _pointer;

    private GuestRamFile(MemoryMappedFile file, MemoryMappedViewAccessor view, long bytes)
    {
        _file = file;
        _view = view;
        Bytes = bytes;
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _pointer = pointer + view.PointerOffset;
    }

    public long Bytes { get; }

    /// <summary>The first byte of the guest's RAM; valid until disposed.</summary>
    public byte* Start
    {
        get
        {
            ObjectDisposedException.ThrowIf(_pointer is null, this);
            return _pointer;
        }
    }

    public ReadOnlySpan<byte> Span => Bytes <= int.MaxValue ? new ReadOnlySpan<byte>(Start, (int)Bytes) : throw new InvalidOperationException("RAM over 2 GiB has no single span");

    /// <summary>
    /// Reads one byte of every page, so this process's page tables map the whole file before the
    /// first checkpoint instead of faulting page by page inside its pause. The guest's RAM is
    /// wholly resident afterwards (tmpfs allocates a page on first touch): the first capture reads
    /// every page anyway, so this moves that cost, it does not add to it.
    /// </summary>
    public int Prefault(int pageSize)
    {
        int sum = 0;
        byte* start = Start;
        for (long offset = 0; offset < Bytes; offset += pageSize)
        {
            sum += start[offset];
        }

        return sum;
    }

    /// <summary>Makes <paramref name="path"/> a zero-filled file of <paramref name="bytes"/> (sparse on tmpfs), replacing any old one.</summary>
    public static void CreateEmpty(string path, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        File.Delete(path);
        using FileStream stream = CreateOwnerOnly(path);
        stream.SetLength(bytes);
    }

    /// <summary>Replaces <paramref name="path"/> with a file holding exactly <paramref name="ram"/> (a checkpoint's RAM).</summary>
    public static void WriteImage(string path, ReadOnlySpan<byte> ram)
    {
        File.Delete(path);
        using FileStream stream = CreateOwnerOnly(path);
        stream.SetLength(ram.Length);
        stream.Write(ram);
    }

    /// <summary>
    /// Writes <paramref name="ram"/> over the existing file of exactly its size, in place: a QEMU that
    /// maps the file already sees it (<see cref="WriteImage"/> would give it a new file QEMU does not map).
    /// </summary>
    public static void WriteInPlace(string path, ReadOnlySpan<byte> ram)
    {
        using FileStream stream = new(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
        if (stream.Length != ram.Length)
        {
            throw new InvalidOperationException($"the RAM file {path} holds {stream.Length} bytes, the state {ram.Length}");
        }

        stream.Write(ram);
    }

    /// <summary>
    /// A new file only its owner may read or write: it holds the guest's memory (keys, data), and
    /// QEMU, started by the same user, maps it as it is rather than creating it with its own mode.
    /// </summary>
    private static FileStream CreateOwnerOnly(string path)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            // Owner-only from the first instant, whatever the umask.
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        return new FileStream(path, options);
    }

    /// <summary>Maps the RAM file read-only; it must be exactly <paramref name="bytes"/> long.</summary>
    public static GuestRamFile Open(string path, long bytes)
    {
        long length = new FileInfo(path).Length;
        if (length != bytes)
        {
            throw new InvalidOperationException($"the RAM file {path} holds {length} bytes, the guest has {bytes}");
        }

        MemoryMappedFile file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        try
        {
            MemoryMappedViewAccessor view = file.CreateViewAccessor(0, bytes, MemoryMappedFileAccess.Read);
            return new GuestRamFile(file, view, bytes);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (_pointer is not null)
        {
            _pointer = null;
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
            _file.Dispose();
        }
    }
}
