using System.Collections.Concurrent;
using Replicator.Core.Blocks;
using Replicator.Runtime.Primary;

namespace Replicator.Runtime.Tests.Primary;

/// <summary>The NBD export's pooled completion of a guest request: each outcome read once, then the same object serves the next request.</summary>
public class PooledRequestCompletionTests
{
    [Fact]
    public async Task A_completion_returns_to_the_pool_once_its_outcome_is_read_and_serves_the_next_request()
    {
        var pool = new ConcurrentQueue<PooledRequestCompletion>();
        PooledRequestCompletion first = PooledRequestCompletion.Rent(pool);
        ValueTask<RequestStatus> outcome = first.Outcome;

        first.Complete(RequestStatus.Ok);
        Assert.Equal(RequestStatus.Ok, await outcome);

        PooledRequestCompletion second = PooledRequestCompletion.Rent(pool);
        Assert.Same(first, second);
        ValueTask<RequestStatus> next = second.Outcome;
        second.Complete(RequestStatus.IoError);
        Assert.Equal(RequestStatus.IoError, await next);
    }

    [Fact]
    public async Task A_completion_whose_outcome_is_not_read_yet_is_not_rented_again()
    {
        var pool = new ConcurrentQueue<PooledRequestCompletion>();
        PooledRequestCompletion pending = PooledRequestCompletion.Rent(pool);
        ValueTask<RequestStatus> outcome = pending.Outcome;
        pending.Complete(RequestStatus.Invalid);

        PooledRequestCompletion other = PooledRequestCompletion.Rent(pool);

        Assert.NotSame(pending, other);
        Assert.Equal(RequestStatus.Invalid, await outcome);
        Assert.DoesNotContain(other, pool);
    }

    [Fact]
    public async Task An_outcome_awaited_before_it_completes_resumes_with_it()
    {
        var pool = new ConcurrentQueue<PooledRequestCompletion>();
        PooledRequestCompletion completion = PooledRequestCompletion.Rent(pool);
        Task<RequestStatus> waiting = completion.Outcome.AsTask();
        Assert.False(waiting.IsCompleted);

        completion.Complete(RequestStatus.Ok);

        Assert.Equal(RequestStatus.Ok, await waiting);
        Assert.True(pool.TryDequeue(out PooledRequestCompletion? back));
        Assert.Same(completion, back);
    }
}
