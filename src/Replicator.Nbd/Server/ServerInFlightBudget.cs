using System.Diagnostics;

namespace Replicator.Nbd.Server;

/// <summary>
/// Bounds the bytes of requests read but not yet answered across every connection of a server. Each
/// connection's receive loop takes its request's bytes here (after its own <see cref="InFlightBudget"/>)
/// before it reads the payload, and waits while the server holds too much: waiting is how the server
/// stops reading, so TCP pushes back on the clients. Bytes come back when a reply has been written or
/// dropped, so replies a client does not read keep the server from reading more, instead of growing it.
/// </summary>
/// <remarks>
/// A connection with nothing else in flight takes its request's bytes without waiting
/// (<see cref="EnterRegardless"/>), so no client is starved by others that hold the budget with
/// replies they never read. Waiters are served in arrival order: a large request is not passed over forever by small ones,
/// and a request larger than the whole budget runs once nothing else is held (alone), so no size of
/// request can wait forever on an idle server.
/// </remarks>
internal sealed class ServerInFlightBudget
{
    private readonly object _gate = new();
    private readonly LinkedList<Waiter> _waiters = new();
    private readonly Action? _onWait;
    private long _bytes;
    private long _peakBytes;
    private TaskCompletionSource? _idle;

    /// <param name="maxBytes">The bound.</param>
    /// <param name="onWait">Called (outside the lock) each time a request has to wait: the server logs that it stopped reading.</param>
    public ServerInFlightBudget(long maxBytes, Action? onWait = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        MaxBytes = maxBytes;
        _onWait = onWait;
    }

    public long MaxBytes { get; }

    /// <summary>Bytes held now.</summary>
    public long Bytes
    {
        get
        {
            lock (_gate)
            {
                return _bytes;
            }
        }
    }

    /// <summary>The most ever held at once (what a test checks against the bound).</summary>
    public long PeakBytes
    {
        get
        {
            lock (_gate)
            {
                return _peakBytes;
            }
        }
    }

    /// <summary>Takes <paramref name="bytes"/> if they fit now and nobody waits; false (taking nothing) otherwise.</summary>
    public bool TryEnter(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        lock (_gate)
        {
            if (_waiters.Count == 0 && CanTake(bytes))
            {
                TakeLocked(bytes);
                return true;
            }

            return false;
        }
    }

    /// <summary>Takes <paramref name="bytes"/>, waiting behind earlier waiters while they would not fit.</summary>
    public Task EnterAsync(long bytes, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        Waiter waiter;
        lock (_gate)
        {
            if (_waiters.Count == 0 && CanTake(bytes))
            {
                TakeLocked(bytes);
                return Task.CompletedTask;
            }

            cancellationToken.ThrowIfCancellationRequested();
            waiter = new Waiter(this, bytes, cancellationToken);
            waiter.Node = _waiters.AddLast(waiter);
        }

        // Registered outside the lock: a token already canceled runs the callback at once, and it takes the lock.
        waiter.Registration = cancellationToken.Register(static state => ((Waiter)state!).Cancel(), waiter);
        if (waiter.Completion.Task.IsCompleted)
        {
            waiter.Registration.Unregister(); // granted before it was registered: nothing left to cancel
        }

        _onWait?.Invoke();
        return waiter.Completion.Task;
    }

    /// <summary>
    /// Takes <paramref name="bytes"/> at once, past the bound if need be. For a connection's only
    /// request in flight (alone when read, or once the requests before it replied while it waited):
    /// a client that reads its replies then always gets one request at a time served, however much
    /// clients that do not read hold, and the bound still holds to within one request per connection.
    /// </summary>
    public void EnterRegardless(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        lock (_gate)
        {
            TakeLocked(bytes);
        }
    }

    /// <summary>Gives back what <see cref="EnterAsync"/> or <see cref="EnterRegardless"/> took, and lets waiters in that now fit.</summary>
    public void Exit(long bytes)
    {
        List<Waiter>? granted;
        TaskCompletionSource? idle = null;
        lock (_gate)
        {
            _bytes -= bytes;
            Debug.Assert(_bytes >= 0, "more bytes given back than taken");
            granted = GrantLocked();
            if (_bytes == 0)
            {
                idle = _idle;
                _idle = null;
            }
        }

        Wake(granted);
        idle?.TrySetResult();
    }

    /// <summary>Completes once nothing is held (every request answered or dropped, every buffer back).</summary>
    public Task WhenIdleAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_bytes == 0)
            {
                return Task.CompletedTask;
            }

            _idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _idle.Task.WaitAsync(cancellationToken);
        }
    }

    private bool CanTake(long bytes) => _bytes == 0 || _bytes + bytes <= MaxBytes;

    private void TakeLocked(long bytes)
    {
        _bytes += bytes;
        _peakBytes = Math.Max(_peakBytes, _bytes);
    }

    /// <summary>Grants waiters from the front while they fit; the first that does not fit stops the rest (arrival order).</summary>
    private List<Waiter>? GrantLocked()
    {
        List<Waiter>? granted = null;
        while (_waiters.First is { } first && CanTake(first.Value.Bytes))
        {
            _waiters.RemoveFirst();
            TakeLocked(first.Value.Bytes);
            (granted ??= []).Add(first.Value);
        }

        return granted;
    }

    private void Cancel(Waiter waiter)
    {
        List<Waiter>? granted;
        lock (_gate)
        {
            if (waiter.Node?.List is null)
            {
                return; // granted already: the bytes are the waiter's, to give back with Exit
            }

            _waiters.Remove(waiter.Node);
            granted = GrantLocked(); // it may have been the one at the front holding the others back
        }

        waiter.Completion.TrySetCanceled(waiter.CancellationToken);
        Wake(granted);
    }

    private static void Wake(List<Waiter>? granted)
    {
        if (granted is null)
        {
            return;
        }

        foreach (Waiter waiter in granted)
        {
            // Unregister does not wait for a cancel callback running elsewhere; that one finds the
            // waiter granted and does nothing.
            waiter.Registration.Unregister();
            waiter.Completion.TrySetResult();
        }
    }

    private sealed class Waiter(ServerInFlightBudget owner, long bytes, CancellationToken cancellationToken)
    {
        public long Bytes { get; } = bytes;

        public CancellationToken CancellationToken { get; } = cancellationToken;

        // Continuations run on the thread pool, not inside Exit under a reply's completion.
        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public LinkedListNode<Waiter>? Node { get; set; }

        // Set after the waiter is queued; a grant that comes first finds it unset, and EnterAsync
        // then unregisters it itself.
        public CancellationTokenRegistration Registration { get; set; }

        public void Cancel() => owner.Cancel(this);
    }
}
