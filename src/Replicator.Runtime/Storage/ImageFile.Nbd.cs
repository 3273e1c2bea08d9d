using Replicator.Core.Blocks;
using Replicator.Nbd;
using Replicator.Nbd.Protocol;

namespace Replicator.Runtime.Storage;

/// <summary>
/// The image as an NBD export's backend (a promoted secondary serves its image this way): one handle
/// shared by every connection, the same writes and the same flush (fdatasync) as the block seam.
/// </summary>
/// <remarks>
/// Trim zeroes rather than punching a hole: the replica models a trim as zeroes
/// (<see cref="BlockOp.Trim"/>), so zeroing keeps primary and replica byte-identical. Zeroing marks
/// the range on file systems that can (see <see cref="WriteZeroes"/>), so it is fast there, but a
/// trim frees no space. Block status reports the file's holes (a sparse image's untouched ranges).
/// </remarks>
public sealed partial class ImageFile : INbdBackend
{
    /// <summary>4 MiB: above the 1 MiB the protocol asks a maximum to reach, small enough that 64 in-flight requests stay cheap.</summary>
    public const int DefaultMaxRequestBytes = 4 << 20;

    public int MaxRequestBytes { get; }

    public async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        CheckRange(offset, destination.Length);
        while (!destination.IsEmpty)
        {
            int read = await RandomAccess.ReadAsync(_handle, destination, offset, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw EndedAt(offset);
            }

            destination = destination[read..];
            offset += read;
        }
    }

    public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, bool fua, CancellationToken cancellationToken)
    {
        CheckWrite(offset, data.Length);
        await RandomAccess.WriteAsync(_handle, data, offset, cancellationToken).ConfigureAwait(false);
        Wrote(offset + data.Length);
        if (fua)
        {
            Flush();
        }
    }

    public async ValueTask WriteZeroesAsync(long offset, int length, bool fua, CancellationToken cancellationToken)
    {
        // The vectored write and fdatasync block, and the server calls from its receive loop: run them on the thread pool.
        await Task.Run(
            () =>
            {
                WriteZeroes(offset, length);
                if (fua)
                {
                    Flush();
                }
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>True while the file system zeroes ranges without writing them (see <see cref="WriteZeroes"/>).</summary>
    public bool ZeroesFast => Volatile.Read(ref _zeroRangeWorks);

    public ValueTask<int> DescribeAllocationAsync(long offset, long length, Memory<NbdExtent> extents, CancellationToken cancellationToken) =>
        ValueTask.FromResult(DescribeAllocation(offset, length, extents.Span));

    /// <summary>The data and hole extents of a range inside the image, for NBD block status (see <see cref="FileAllocation.Describe"/>).</summary>
    public int DescribeAllocation(long offset, long length, Span<NbdExtent> extents)
    {
        CheckRange(offset, length);
        return FileAllocation.Describe(_handle, offset, length, Size, extents);
    }

    public ValueTask PrefetchAsync(long offset, long length, CancellationToken cancellationToken)
    {
        Prefetch(offset, length);
        return ValueTask.CompletedTask;
    }

    /// <summary>Asks the kernel to read the range ahead (NBD_CMD_CACHE); a hint.</summary>
    public void Prefetch(long offset, long length)
    {
        CheckRange(offset, length);
        FileAllocation.WillNeed(_handle, offset, length);
    }

    public ValueTask TrimAsync(long offset, int length, CancellationToken cancellationToken) =>
        WriteZeroesAsync(offset, length, fua: false, cancellationToken);

    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        // fdatasync blocks, and the server calls from its receive loop: run it on the thread pool.
        await Task.Run(Flush, cancellationToken).ConfigureAwait(false);
    }
}
