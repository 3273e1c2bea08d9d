using Microsoft.Win32.SafeHandles;
using Replicator.Core.Blocks;
using Replicator.Core.Storage;

namespace Replicator.Runtime.Storage;

/// <summary>
/// A file read and written at offsets with pread/pwrite and flushed with fdatasync: a disk image or
/// RAM image (fixed size, a multiple of the sector), or a growable file such as the journal (see
/// <see cref="OpenGrowable"/>). Thread-safe for concurrent non-overlapping I/O, as the OS is.
/// </summary>
public sealed class ImageFile : IBlockDevice
{
    /// <summary>Files holding guest data or state are the owner's alone.</summary>
    internal const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly SafeFileHandle _handle;
    private readonly bool _growable;
    private long _size;

    private ImageFile(string path, SafeFileHandle handle, long size, bool readOnly, bool growable = false)
    {
        Path = path;
        _handle = handle;
        _size = size;
        ReadOnly = readOnly;
        _growable = growable;
    }

    public string Path { get; }

    public string Name => Path;

    public long Size => Volatile.Read(ref _size);

    public bool ReadOnly { get; }

    /// <summary>Opens an existing image; its size must be a positive multiple of the sector size.</summary>
    public static ImageFile Open(string path, bool readOnly = false)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"image {path} does not exist", path);
        }

        SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite, FileShare.Read);
        long size = RandomAccess.GetLength(handle);
        if (size <= 0 || size % BlockGeometry.SectorSize != 0)
        {
            handle.Dispose();
            throw new InvalidDataException($"image {path} is {size} bytes: it must be a positive multiple of {BlockGeometry.SectorSize}");
        }

        return new ImageFile(path, handle, size, readOnly);
    }

    /// <summary>Creates (or replaces) a sparse image of the given size, full of zeroes, readable by its owner only.</summary>
    public static ImageFile Create(string path, long size)
    {
        using (SafeFileHandle handle = CreateHandle(path, FileMode.Create))
        {
            RandomAccess.SetLength(handle, size);
        }

        return Open(path);
    }

    /// <summary>
    /// Opens (creating it when <paramref name="create"/>, owner-only) a file of any length that writes
    /// past its end extend: the journal, the state record.
    /// </summary>
    public static ImageFile OpenGrowable(string path, bool create)
    {
        SafeFileHandle handle = create ? CreateHandle(path, FileMode.Create) : File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        return new ImageFile(path, handle, RandomAccess.GetLength(handle), readOnly: false, growable: true);
    }

    private static SafeFileHandle CreateHandle(string path, FileMode mode)
    {
        if (OperatingSystem.IsWindows())
        {
            return File.OpenHandle(path, mode, FileAccess.ReadWrite);
        }

        // Created owner-only from the first instant (never world-readable under a loose umask), and
        // a file that existed already loses any wider mode it had.
        if (!File.Exists(path))
        {
            using var created = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = OwnerOnly });
        }

        SafeFileHandle handle = File.OpenHandle(path, mode, FileAccess.ReadWrite, FileShare.Read);
        File.SetUnixFileMode(handle, OwnerOnly);
        return handle;
    }

    public void Read(long offset, Span<byte> destination)
    {
        CheckRange(offset, destination.Length);
        while (!destination.IsEmpty)
        {
            int read = RandomAccess.Read(_handle, destination, offset);
            if (read <= 0)
            {
                throw new IOException($"image {Path} ended at {offset} while reading");
            }

            destination = destination[read..];
            offset += read;
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        if (_growable)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(offset);
            RandomAccess.Write(_handle, data, offset);
            InterlockedMax(ref _size, offset + data.Length);
            return;
        }

        CheckRange(offset, data.Length);
        RandomAccess.Write(_handle, data, offset);
    }

    /// <summary>Cuts or extends a growable file; durable with the next <see cref="Flush"/>.</summary>
    public void SetSize(long size)
    {
        if (!_growable)
        {
            throw new InvalidOperationException($"{Path} is an image of fixed size {Size}: it is never resized");
        }

        RandomAccess.SetLength(_handle, size);
        Volatile.Write(ref _size, size);
    }

    private static void InterlockedMax(ref long target, long value)
    {
        long seen = Volatile.Read(ref target);
        while (value > seen)
        {
            long was = Interlocked.CompareExchange(ref target, value, seen);
            if (was == seen)
            {
                return;
            }

            seen = was;
        }
    }

    /// <summary>Makes every completed write durable (fdatasync).</summary>
    public void Flush() => Durability.DataSync(_handle);

    public void Dispose() => _handle.Dispose();

    private void CheckRange(long offset, int length)
    {
        if (offset < 0 || length < 0 || offset + length > Size)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"range {offset}+{length} lies outside image {Path} of {Size} bytes");
        }
    }
}
