namespace Replicator.Core.Storage;

/// <summary>
/// The seam between storage code and what holds its bytes: a file on the daemon's file system, or
/// a simulated disk with a volatile write cache and injected faults. The journal, the state record
/// and the images use nothing else, so simulated power cuts and errors hit the code the daemons run.
/// </summary>
/// <remarks>
/// The contract is a file's under POSIX: a write is visible to reads at once and durable only once a
/// later <see cref="Flush"/> returns; after a power cut each byte range written since the last flush
/// holds its old or a new contents, torn at sector granularity. Failures throw <see cref="IOException"/>;
/// after a failed flush nothing written since the previous successful one is known to be durable.
/// </remarks>
public interface IBlockDevice : IDisposable
{
    /// <summary>What an operator reads in a message about this device: its path.</summary>
    string Name { get; }

    /// <summary>The device's length in bytes.</summary>
    long Size { get; }

    /// <summary>Reads exactly <paramref name="destination"/>'s length from <paramref name="offset"/>; throws past the end.</summary>
    void Read(long offset, Span<byte> destination);

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/>, growing a device that may grow.</summary>
    void Write(long offset, ReadOnlySpan<byte> data);

    /// <summary>
    /// Writes <paramref name="length"/> zero bytes from <paramref name="offset"/>, like a
    /// <see cref="Write"/> of zeroes. A device with a cheaper way (one vectored write) overrides this.
    /// </summary>
    void WriteZeroes(long offset, int length)
    {
        while (length > 0)
        {
            int chunk = Math.Min(length, ZeroBlock.Bytes);
            Write(offset, ZeroBlock.Memory.Span[..chunk]);
            offset += chunk;
            length -= chunk;
        }
    }

    /// <summary>Makes every completed write (and the length) durable: fdatasync.</summary>
    void Flush();

    /// <summary>
    /// Asks the device to start writing the range's completed writes out to its disk, without
    /// waiting (sync_file_range with SYNC_FILE_RANGE_WRITE), so that a later <see cref="Flush"/>
    /// finds less left to write. A hint only: nothing is durable before that flush, and a device
    /// without such a call (the default) ignores it.
    /// </summary>
    void StartWriteOut(long offset, long length)
    {
    }

    /// <summary>Cuts or extends the device to <paramref name="size"/> bytes; durable with the next <see cref="Flush"/>.</summary>
    void SetSize(long size);
}
