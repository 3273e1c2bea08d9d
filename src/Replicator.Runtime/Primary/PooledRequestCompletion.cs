using System.Collections.Concurrent;
using System.Threading.Tasks.Sources;
using Replicator.Core.Blocks;

namespace Replicator.Runtime.Primary;

/// <summary>
/// A guest request's completion that an NBD request awaits without allocating: rented from a pool
/// per request, completed on the primary's loop, and back in the pool once the awaiter has read
/// the outcome. The awaiter's continuation runs on the thread pool, not on the loop, which must
/// not run NBD replies. The pool holds at most as many as were ever in flight at once (bounded by
/// the NBD server's in-flight limits).
/// </summary>
internal sealed class PooledRequestCompletion : IGuestRequestCompletion, IValueTaskSource<RequestStatus>
{
    private readonly ConcurrentQueue<PooledRequestCompletion> _pool;
    private ManualResetValueTaskSourceCore<RequestStatus> _core = new() { RunContinuationsAsynchronously = true };

    private PooledRequestCompletion(ConcurrentQueue<PooledRequestCompletion> pool) => _pool = pool;

    /// <summary>What the request's awaiter awaits: valid until it has been awaited once.</summary>
    public ValueTask<RequestStatus> Outcome => new(this, _core.Version);

    public static PooledRequestCompletion Rent(ConcurrentQueue<PooledRequestCompletion> pool) =>
        pool.TryDequeue(out PooledRequestCompletion? completion) ? completion : new PooledRequestCompletion(pool);

    public void Complete(RequestStatus status) => _core.SetResult(status);

    public RequestStatus GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            // Read once: the next request may have it.
            _core.Reset();
            _pool.Enqueue(this);
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
