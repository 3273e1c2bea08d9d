namespace Replicator.Nbd.Server;

/// <summary>
/// Bounds what one connection holds in flight: a number of requests and the bytes of their buffers.
/// The connection's receive loop is the only waiter, so it stops reading from the socket (and TCP
/// pushes back on the client) while the budget is spent.
/// </summary>
internal sealed class InFlightBudget
{
    private readonly object _gate = new();
    private int _requests;
    private long _bytes;
    private TaskCompletionSource? _waiter;
    private WaitFor _waitFor;
    private long _waitingBytes; // what an Enter waiter needs

    public InFlightBudget(int maxRequests, long maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRequests);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        MaxRequests = maxRequests;
        MaxBytes = maxBytes;
    }

    public int MaxRequests { get; }

    public long MaxBytes { get; }

    public int Requests
    {
        get
        {
            lock (_gate)
            {
                return _requests;
            }
        }
    }

    /// <summary>
    /// Takes one request and <paramref name="bytes"/> of buffer, waiting while either is spent. A
    /// request larger than the whole byte budget waits until nothing else is in flight.
    /// </summary>
    public Task EnterAsync(long bytes, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        lock (_gate)
        {
            if (CanEnter(bytes))
            {
                _requests++;
                _bytes += bytes;
                return Task.CompletedTask;
            }

            return WaitLocked(WaitFor.Enter, bytes, cancellationToken);
        }
    }

    /// <summary>Gives back what <see cref="EnterAsync"/> took.</summary>
    public void Exit(long bytes)
    {
        TaskCompletionSource? wake = null;
        lock (_gate)
        {
            _requests--;
            _bytes -= bytes;
            bool ready = _waitFor switch
            {
                WaitFor.Enter => CanEnter(_waitingBytes),
                WaitFor.Alone => _requests <= 1,
                _ => _requests == 0,
            };
            if (_waiter is not null && ready)
            {
                if (_waitFor == WaitFor.Enter)
                {
                    _requests++;
                    _bytes += _waitingBytes;
                }

                wake = _waiter;
                _waiter = null;
            }
        }

        wake?.TrySetResult();
    }

    /// <summary>Completes when nothing is in flight.</summary>
    public Task WhenIdleAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return _requests == 0 ? Task.CompletedTask : WaitLocked(WaitFor.Idle, 0, cancellationToken);
        }
    }

    /// <summary>Completes when at most one request is in flight: the one the receive loop holds while it waits for the server's budget.</summary>
    public Task WhenAloneAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return _requests <= 1 ? Task.CompletedTask : WaitLocked(WaitFor.Alone, 0, cancellationToken);
        }
    }

    private bool CanEnter(long bytes) =>
        _requests < MaxRequests && (_requests == 0 || _bytes + bytes <= MaxBytes);

    private Task WaitLocked(WaitFor waitFor, long bytes, CancellationToken cancellationToken)
    {
        if (_waiter is not null)
        {
            throw new InvalidOperationException("only the receive loop waits on a connection's budget");
        }

        // Continuations run on the thread pool, not inside Exit under a request's completion.
        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _waiter = waiter;
        _waitFor = waitFor;
        _waitingBytes = bytes;
        if (cancellationToken.CanBeCanceled)
        {
            CancellationTokenRegistration registration = cancellationToken.Register(() => Cancel(waiter, cancellationToken));
            _ = waiter.Task.ContinueWith(_ => registration.Dispose(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        return waiter.Task;
    }

    private void Cancel(TaskCompletionSource waiter, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!ReferenceEquals(_waiter, waiter))
            {
                return; // already granted
            }

            _waiter = null;
        }

        waiter.TrySetCanceled(cancellationToken);
    }

    /// <summary>What the one waiter (the receive loop) waits for.</summary>
    private enum WaitFor
    {
        /// <summary>Room for one more request of <see cref="_waitingBytes"/>, which it then holds.</summary>
        Enter,

        /// <summary>No request in flight.</summary>
        Idle,

        /// <summary>At most one request in flight (its own).</summary>
        Alone,
    }
}
