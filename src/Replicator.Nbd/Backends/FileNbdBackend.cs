using Microsoft.Win32.SafeHandles;
using Replicator.Core.Blocks;

namespace Replicator.Nbd.Backends;

/// <summary>
/// A raw image file as an NBD backend: positional reads and writes (pread/pwrite) on one handle
/// shared by every connection, flush = fsync of the file.
/// </summary>
/// <remarks>
/// Trim writes zeroes rather than punching a hole: the replica models a trim as zeroes
/// (<see cref="BlockOp.Trim"/>), so zeroing keeps primary and replica byte-identical, and hole
/// punching would need a P/Invoke whose effect depends on the file system. The cost is that a trim
/// frees no space.
/// </remarks>
public sealed class FileNbdBackend : INbdBackend, IDisposable
{
    /// <summary>4 MiB: above the 1 MiB the protocol asks a maximum to reach, small enough that 64 in-flight requests stay cheap.</summary>
    public const int DefaultMaxRequestBytes = 4 << 20;

    // Zeroes are written from one shared block, many times over in one vectored write.
    private const int ZeroBlockBytes = 256 << 10;
    private const int ZeroSegmentsPerWrite = 64;
    private static readonly ReadOnlyMemory<byte> ZeroBlock = new byte[ZeroBlockBytes];

    private readonly SafeFileHandle _handle;
    private long _flushesToDisk;

    private FileNbdBackend(SafeFileHandle handle, long size, int maxRequestBytes, bool readOnly)
    {
        _handle = handle;
        Size = size;
        MaxRequestBytes = maxRequestBytes;
        IsReadOnly = readOnly;
    }

    public long Size { get; }

    public int MaxRequestBytes { get; }

    public bool IsReadOnly { get; }

    /// <summary>How many times the file has been flushed to disk (flushes and FUA requests): diagnostics, and how tests see FUA.</summary>
    public long FlushesToDisk => Interlocked.Read(ref _flushesToDisk);

    /// <summary>Opens an existing image whose size is a multiple of 512 bytes.</summary>
    public static FileNbdBackend Open(string path, bool readOnly = false, int maxRequestBytes = DefaultMaxRequestBytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (maxRequestBytes < BlockGeometry.SectorSize || maxRequestBytes % BlockGeometry.SectorSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxRequestBytes), maxRequestBytes, $"must be a positive multiple of {BlockGeometry.SectorSize}");
        }

        SafeFileHandle handle = File.OpenHandle(
            path,
            FileMode.Open,
            readOnly ? FileAccess.Read : FileAccess.ReadWrite,
            FileShare.Read);
        try
        {
            long size = RandomAccess.GetLength(handle);
            if (size % BlockGeometry.SectorSize != 0)
            {
                throw new ArgumentException($"image {path} is {size} bytes, not a multiple of {BlockGeometry.SectorSize}: its tail could not be addressed", nameof(path));
            }

            return new FileNbdBackend(handle, size, maxRequestBytes, readOnly);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    public async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        while (!destination.IsEmpty)
        {
            int read = await RandomAccess.ReadAsync(_handle, destination, offset, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw new IOException($"the image ended at {offset}, inside the export's {Size} bytes: was it truncated?");
            }

            destination = destination[read..];
            offset += read;
        }
    }

    public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, bool fua, CancellationToken cancellationToken)
    {
        await RandomAccess.WriteAsync(_handle, data, offset, cancellationToken).ConfigureAwait(false);
        if (fua)
        {
            FlushToDisk();
        }
    }

    public async ValueTask WriteZeroesAsync(long offset, int length, bool fua, CancellationToken cancellationToken)
    {
        var segments = new List<ReadOnlyMemory<byte>>(ZeroSegmentsPerWrite);
        while (length > 0)
        {
            segments.Clear();
            int batch = 0;
            while (length - batch > 0 && segments.Count < ZeroSegmentsPerWrite)
            {
                int segment = Math.Min(ZeroBlockBytes, length - batch);
                segments.Add(ZeroBlock[..segment]);
                batch += segment;
            }

            await RandomAccess.WriteAsync(_handle, segments, offset, cancellationToken).ConfigureAwait(false);
            offset += batch;
            length -= batch;
        }

        if (fua)
        {
            FlushToDisk();
        }
    }

    public ValueTask TrimAsync(long offset, int length, CancellationToken cancellationToken) =>
        WriteZeroesAsync(offset, length, fua: false, cancellationToken);

    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        // fsync blocks, and the server calls from its receive loop: run it on the thread pool.
        await Task.Run(FlushToDisk, cancellationToken).ConfigureAwait(false);
    }

    public void Dispose() => _handle.Dispose();

    private void FlushToDisk()
    {
        RandomAccess.FlushToDisk(_handle);
        Interlocked.Increment(ref _flushesToDisk);
    }
}
