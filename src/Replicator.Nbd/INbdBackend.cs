using Replicator.Nbd.Protocol;

namespace Replicator.Nbd;

/// <summary>
/// The block device behind an NBD export: the seam where the replication runtime puts its write
/// filter. The server checks every request against <see cref="Size"/>, the export's maximum payload
/// and 512-byte alignment, and splits what is longer than <see cref="MaxRequestBytes"/>, before
/// calling, so implementations see only well-formed ranges of at most that length.
/// </summary>
/// <remarks>
/// Calls may overlap: requests of one connection are pipelined and several connections share one
/// backend. Two in-flight requests never overlap in range unless the client sent them so, which the
/// protocol lets it do only if it does not care about their order. The server calls from its receive
/// loop and awaits nothing before the next request, so an implementation should go asynchronous
/// rather than block for long. Buffers belong to the server: do not keep them past the returned task.
/// Throw <see cref="NbdBackendException"/> to choose the error the client sees; any other
/// exception is reported as EIO and logged.
/// </remarks>
public interface INbdBackend
{
    /// <summary>Bytes in the export; a multiple of 512.</summary>
    long Size { get; }

    /// <summary>
    /// The largest read, write, write-zeroes or trim the backend takes in one call. The server splits
    /// longer requests (reads and writes up to the export's maximum payload, see
    /// <see cref="NbdServerOptions.MaxPayloadBytes"/>; write-zeroes and trims of any length) into
    /// calls of at most this.
    /// </summary>
    int MaxRequestBytes { get; }

    /// <summary>True when the backend takes no changes: the export is advertised read-only and writes fail with EPERM.</summary>
    bool IsReadOnly { get; }

    /// <summary>Fills <paramref name="destination"/> with the bytes at <paramref name="offset"/>.</summary>
    ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken);

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/>; with <paramref name="fua"/>, durably before completing.</summary>
    ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, bool fua, CancellationToken cancellationToken);

    /// <summary>Makes the range read as zeroes; with <paramref name="fua"/>, durably before completing.</summary>
    ValueTask WriteZeroesAsync(long offset, int length, bool fua, CancellationToken cancellationToken);

    /// <summary>Discards the range (a hint: afterwards its contents are unspecified until written).</summary>
    ValueTask TrimAsync(long offset, int length, CancellationToken cancellationToken);

    /// <summary>
    /// Makes every write that completed before this call durable, whichever connection sent it: the
    /// export advertises CAN_MULTI_CONN on this promise (a client may then trust one connection's
    /// flush for the writes it finished on the others).
    /// </summary>
    ValueTask FlushAsync(CancellationToken cancellationToken);

    /// <summary>
    /// True when <see cref="WriteZeroesAsync"/> is much cheaper than writing zeroes (the storage
    /// zeroes a range without writing it). A write-zeroes with NBD_CMD_FLAG_FAST_ZERO fails at once
    /// with ENOTSUP while this is false, so a client such as qemu-img learns not to pre-zero.
    /// </summary>
    bool ZeroesFast => false;

    /// <summary>
    /// Describes the allocation of <paramref name="offset"/>..+<paramref name="length"/> for the
    /// <c>base:allocation</c> metadata context: fills <paramref name="extents"/> from
    /// <paramref name="offset"/> on with consecutive extents and returns how many. At least one,
    /// at most the span's length; together they may cover less than asked (the client asks again
    /// for the rest) but never more. The default, for a backend that cannot tell, is one allocated
    /// extent over the whole range, which the protocol allows.
    /// </summary>
    ValueTask<int> DescribeAllocationAsync(long offset, long length, Memory<NbdExtent> extents, CancellationToken cancellationToken)
    {
        extents.Span[0] = new NbdExtent(length, NbdExtentState.Data);
        return ValueTask.FromResult(1);
    }

    /// <summary>
    /// NBD_CMD_CACHE: a hint that the range will be read soon. The default does nothing, which the
    /// protocol allows; a file-backed backend asks the kernel to read ahead.
    /// </summary>
    ValueTask PrefetchAsync(long offset, long length, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
