using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Replicator.Core.Blocks;
using Replicator.Nbd;
using Replicator.Nbd.Protocol;

namespace Replicator.Runtime.Primary;

/// <summary>
/// The primary's front door: puts its write filter behind the NBD export, so the path reads NBD →
/// <see cref="PrimaryNode"/> → engine. Every write, write-zeroes, trim and flush a client sends
/// becomes a guest request of the primary engine (sequenced, mirrored, drained at checkpoints);
/// reads, block status and prefetches come straight from the primary's image.
/// </summary>
/// <remarks>
/// A flush is a guest request like the others: sequenced after every request already submitted,
/// whichever connection sent it, so it covers every write that completed before it (the promise
/// behind CAN_MULTI_CONN), on the primary's disk and in the replica's flush ordering alike.
/// </remarks>
public sealed class ReplicatedNbdBackend(PrimaryNode node, int maxRequestBytes) : INbdBackend
{
    private readonly ConcurrentQueue<PooledRequestCompletion> _completions = new();

    public long Size => node.ImageBytes;

    public int MaxRequestBytes => maxRequestBytes;

    public bool IsReadOnly => false;

    public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        node.Read(offset, destination.Span);
        return ValueTask.CompletedTask;
    }

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, bool fua, CancellationToken cancellationToken) =>
        SubmitAsync(BlockRequest.Write(offset, data.Length, fua), data);

    public ValueTask WriteZeroesAsync(long offset, int length, bool fua, CancellationToken cancellationToken) =>
        SubmitAsync(BlockRequest.Zeroes(offset, length, fua), default);

    public ValueTask TrimAsync(long offset, int length, CancellationToken cancellationToken) =>
        SubmitAsync(BlockRequest.Trim(offset, length), default);

    public ValueTask FlushAsync(CancellationToken cancellationToken) => SubmitAsync(BlockRequest.Flush(), default);

    public bool ZeroesFast => node.ZeroesFast;

    public ValueTask<int> DescribeAllocationAsync(long offset, long length, Memory<NbdExtent> extents, CancellationToken cancellationToken) =>
        ValueTask.FromResult(node.DescribeAllocation(offset, length, extents.Span));

    public ValueTask PrefetchAsync(long offset, long length, CancellationToken cancellationToken)
    {
        node.Prefetch(offset, length);
        return ValueTask.CompletedTask;
    }

    // The pooling builder reuses the method's state machine box: with the pooled completion, a request
    // that waits for the loop allocates nothing here.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SubmitAsync(BlockRequest request, ReadOnlyMemory<byte> payload)
    {
        var completion = PooledRequestCompletion.Rent(_completions);
        node.Submit(request, payload, completion);
        RequestStatus status = await completion.Outcome.ConfigureAwait(false);
        if (status != RequestStatus.Ok)
        {
            throw new NbdBackendException(status == RequestStatus.Invalid ? NbdError.Invalid : NbdError.IoError, $"{request.Op} at {request.Offset}+{request.Length}: {status}");
        }
    }
}
