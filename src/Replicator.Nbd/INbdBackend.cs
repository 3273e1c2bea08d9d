namespace Replicator.Nbd;

/// <summary>
/// The block device behind an NBD export: the seam where the replication runtime puts its write
/// filter. The server checks every request against <see cref="Size"/>, <see cref="MaxRequestBytes"/>
/// and 512-byte alignment before calling, so implementations see only well-formed ranges.
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
    /// The largest read, write, write-zeroes or trim the backend takes in one call; advertised as the
    /// maximum block size. The server splits longer write-zeroes and trims into calls of at most this.
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

    /// <summary>Makes every write that completed before this call durable.</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken);
}
