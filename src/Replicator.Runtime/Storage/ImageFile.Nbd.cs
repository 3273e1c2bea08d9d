using Replicator.Core.Blocks;
using Replicator.Nbd;

namespace Replicator.Runtime.Storage;

/// <summary>
/// The image as an NBD export's backend (a promoted secondary serves its image this way): one handle
/// shared by every connection, the same writes and the same flush (fdatasync) as the block seam.
/// </summary>
/// <remarks>
/// Trim writes zeroes rather than punching a hole: the replica models a trim as zeroes
/// (<see cref="BlockOp.Trim"/>), so zeroing keeps primary and replica byte-identical, and hole
/// punching would need a P/Invoke whose effect depends on the file system. The cost is that a trim
/// frees no space.
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

    public ValueTask TrimAsync(long offset, int length, CancellationToken cancellationToken) =>
        WriteZeroesAsync(offset, length, fua: false, cancellationToken);

    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        // fdatasync blocks, and the server calls from its receive loop: run it on the thread pool.
        await Task.Run(Flush, cancellationToken).ConfigureAwait(false);
    }
}
