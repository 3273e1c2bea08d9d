using Microsoft.Win32.SafeHandles;
using Replicator.Core.Blocks;

namespace Replicator.Runtime.Storage;

/// <summary>
/// A raw disk image (or RAM image) file, read and written at offsets with pread/pwrite, flushed
/// with fdatasync. Thread-safe for concurrent non-overlapping I/O, as the OS is.
/// </summary>
public sealed class ImageFile : IDisposable
{
    private static readonly byte[] Zeroes = new byte[64 * 1024];

    private readonly SafeFileHandle _handle;

    private ImageFile(string path, SafeFileHandle handle, long size, bool readOnly)
    {
        Path = path;
        _handle = handle;
        Size = size;
        ReadOnly = readOnly;
    }

    public string Path { get; }

    public long Size { get; }

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

    /// <summary>Creates (or replaces) a sparse image of the given size, full of zeroes.</summary>
    public static ImageFile Create(string path, long size)
    {
        using (SafeFileHandle handle = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite))
        {
            RandomAccess.SetLength(handle, size);
        }

        return Open(path);
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
        CheckRange(offset, data.Length);
        RandomAccess.Write(_handle, data, offset);
    }

    public void WriteZeroes(long offset, int length)
    {
        CheckRange(offset, length);
        while (length > 0)
        {
            int chunk = Math.Min(length, Zeroes.Length);
            RandomAccess.Write(_handle, Zeroes.AsSpan(0, chunk), offset);
            offset += chunk;
            length -= chunk;
        }
    }

    /// <summary>Applies one data request (write, write-zeroes, trim as zeroes); with FUA it is durable on return.</summary>
    public void Apply(in BlockRequest request, ReadOnlySpan<byte> payload)
    {
        switch (request.Op)
        {
            case BlockOp.Write:
                Write(request.Offset, payload);
                break;
            case BlockOp.WriteZeroes or BlockOp.Trim:
                WriteZeroes(request.Offset, request.Length);
                break;
            case BlockOp.Flush:
                Flush();
                return;
            default:
                return;
        }

        if (request.Fua)
        {
            Flush();
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
