using Microsoft.Win32.SafeHandles;
using Replicator.Core.Blocks;
using Replicator.Core.Storage;

namespace Replicator.Runtime.Storage;

/// <summary>
/// The one file of raw bytes the daemons use: read and written at offsets with pread/pwrite and
/// flushed with fdatasync. A disk image or RAM image (fixed size, a multiple of the sector), which
/// is also what an NBD export serves (see ImageFile.Nbd.cs), or a growable file such as the journal
/// (see <see cref="OpenGrowable"/>). Thread-safe for concurrent non-overlapping I/O, as the OS is.
/// </summary>
public sealed partial class ImageFile : IBlockDevice
{
    /// <summary>Files holding guest data or state are the owner's alone.</summary>
    internal const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    // Zeroes go out as one vectored write of this many slices of the shared zero block.
    private const int ZeroSegmentsPerWrite = 64;

    private readonly SafeFileHandle _handle;
    private readonly bool _growable;
    private long _size;
    private long _flushesToDisk;
    private long _writeOutsStarted;
    private bool _writeOutWorks = OperatingSystem.IsLinux();
    private bool _zeroRangeWorks = OperatingSystem.IsLinux();

    private ImageFile(string path, SafeFileHandle handle, long size, bool readOnly, int maxRequestBytes, bool growable = false)
    {
        Path = path;
        _handle = handle;
        _size = size;
        IsReadOnly = readOnly;
        MaxRequestBytes = maxRequestBytes;
        _growable = growable;
    }

    public string Path { get; }

    public string Name => Path;

    public long Size => Volatile.Read(ref _size);

    public bool IsReadOnly { get; }

    /// <summary>How many times the file has been flushed to disk (flushes and FUA requests): diagnostics, and how tests see FUA.</summary>
    public long FlushesToDisk => Interlocked.Read(ref _flushesToDisk);

    /// <summary>How many ranges the disk was asked to start writing out ahead of a flush (<see cref="StartWriteOut"/>): diagnostics and tests.</summary>
    public long WriteOutsStarted => Interlocked.Read(ref _writeOutsStarted);

    /// <summary>
    /// Opens an existing image; its size must be a positive multiple of the sector size.
    /// <paramref name="maxRequestBytes"/> is the largest request it takes as an NBD export.
    /// </summary>
    public static ImageFile Open(string path, bool readOnly = false, int maxRequestBytes = DefaultMaxRequestBytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (maxRequestBytes < BlockGeometry.SectorSize || maxRequestBytes % BlockGeometry.SectorSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxRequestBytes), maxRequestBytes, $"must be a positive multiple of {BlockGeometry.SectorSize}");
        }

        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"image {path} does not exist", path);
        }

        SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite, FileShare.Read);
        try
        {
            long size = RandomAccess.GetLength(handle);
            if (size <= 0 || size % BlockGeometry.SectorSize != 0)
            {
                throw new InvalidDataException($"image {path} is {size} bytes, not a multiple of {BlockGeometry.SectorSize} above zero: its tail could not be addressed");
            }

            return new ImageFile(path, handle, size, readOnly, maxRequestBytes);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
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
        return new ImageFile(path, handle, RandomAccess.GetLength(handle), readOnly: false, DefaultMaxRequestBytes, growable: true);
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
                throw EndedAt(offset);
            }

            destination = destination[read..];
            offset += read;
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        CheckWrite(offset, data.Length);
        RandomAccess.Write(_handle, data, offset);
        Wrote(offset + data.Length);
    }

    /// <summary>
    /// Makes the range read as zeroes. An image asks the file system to zero it without writing
    /// (fallocate FALLOC_FL_ZERO_RANGE: ext4 and XFS mark the blocks, still allocated, so NO_HOLE
    /// holds); durable with the next flush, like a write. Where the file system cannot (and always
    /// for a growable file, which that call would not extend), zeroes are written as slices of the
    /// one shared zero block, many to a vectored write (pwritev). The first refusal turns the fast
    /// way off for the file, and <see cref="ZeroesFast"/> with it.
    /// </summary>
    public void WriteZeroes(long offset, int length)
    {
        CheckWrite(offset, length);
        if (!_growable && Volatile.Read(ref _zeroRangeWorks))
        {
            if (FileAllocation.TryZeroRange(_handle, offset, length, Path))
            {
                return;
            }

            Volatile.Write(ref _zeroRangeWorks, false);
        }

        long end = offset + length;
        var segments = new List<ReadOnlyMemory<byte>>(ZeroSegmentsPerWrite);
        while (offset < end)
        {
            segments.Clear();
            long batchEnd = offset;
            while (batchEnd < end && segments.Count < ZeroSegmentsPerWrite)
            {
                int segment = (int)Math.Min(ZeroBlock.Bytes, end - batchEnd);
                segments.Add(ZeroBlock.Memory[..segment]);
                batchEnd += segment;
            }

            RandomAccess.Write(_handle, segments, offset);
            offset = batchEnd;
        }

        Wrote(end);
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

    /// <summary>Makes every completed write durable (fdatasync): the one flush, for the block seam and NBD alike.</summary>
    public void Flush()
    {
        Durability.DataSync(_handle);
        Interlocked.Increment(ref _flushesToDisk);
    }

    /// <summary>
    /// Starts the range's write-out to disk without waiting (sync_file_range). A kernel or file that
    /// cannot take it turns it off for the file: it was only ever a hint.
    /// </summary>
    public void StartWriteOut(long offset, long length)
    {
        if (length <= 0 || !Volatile.Read(ref _writeOutWorks))
        {
            return;
        }

        if (Durability.StartWriteOut(_handle, offset, length))
        {
            Interlocked.Increment(ref _writeOutsStarted);
        }
        else
        {
            Volatile.Write(ref _writeOutWorks, false);
        }
    }

    public void Dispose() => _handle.Dispose();

    private void CheckRange(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset + length > Size)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"range {offset}+{length} lies outside image {Path} of {Size} bytes");
        }
    }

    /// <summary>A growable file takes a write anywhere past 0 (it extends); an image only inside its size.</summary>
    private void CheckWrite(long offset, int length)
    {
        if (_growable)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(offset);
            ArgumentOutOfRangeException.ThrowIfNegative(length);
            return;
        }

        CheckRange(offset, length);
    }

    private void Wrote(long end)
    {
        if (_growable)
        {
            InterlockedMax(ref _size, end);
        }
    }

    private IOException EndedAt(long offset) => new($"image {Path} ended at {offset}, inside its {Size} bytes: was it truncated?");

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
}
