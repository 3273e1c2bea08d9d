namespace Replicator.Qemu.Processes;

/// <summary>
/// The guest's serial console, line by line, as QEMU prints it on its standard output. Keeps the
/// most recent lines (bounded) numbered from 0, and lets a caller wait for a line that matches,
/// on the injected clock, without polling.
/// </summary>
public sealed class QemuConsole(TimeProvider time, int retainedLines = 4096)
{
    private readonly Lock _lock = new();
    private readonly Queue<string> _recent = new();
    private readonly List<Waiter> _waiters = [];
    private long _count;
    private Exception? _closed;
    private Action<string>[] _followers = [];

    /// <summary>Called for each line as it arrives (on the reader's thread).</summary>
    public event Action<string>? LineReceived;

    /// <summary>How many lines have arrived; the next one gets this number.</summary>
    public long LineCount
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>The retained lines, oldest first.</summary>
    public IReadOnlyList<string> RecentLines()
    {
        lock (_lock)
        {
            return [.. _recent];
        }
    }

    /// <summary>
    /// The first line numbered <paramref name="fromLine"/> or later that matches: one already
    /// retained, or the next to arrive. Fails if the console closes (QEMU exited) or time runs out.
    /// </summary>
    public Task<string> WaitForLineAsync(Func<string, bool> match, long fromLine, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(match);
        var waiter = new Waiter(match);
        lock (_lock)
        {
            long number = _count - _recent.Count;
            foreach (string line in _recent)
            {
                if (number++ >= fromLine && match(line))
                {
                    return Task.FromResult(line);
                }
            }

            if (_closed is not null)
            {
                return Task.FromException<string>(new InvalidOperationException($"the console closed without the line awaited: {_closed.Message}", _closed));
            }

            _waiters.Add(waiter);
        }

        ITimer timer = time.CreateTimer(_ => End(waiter, new TimeoutException($"no matching console line within {timeout.TotalMilliseconds:0} ms")), null, timeout, Timeout.InfiniteTimeSpan);
        CancellationTokenRegistration registration = cancellationToken.Register(() => End(waiter, new OperationCanceledException(cancellationToken)));
        _ = waiter.Result.Task.ContinueWith(
            _ =>
            {
                timer.Dispose();
                registration.Dispose();
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return waiter.Result.Task;
    }

    /// <summary>
    /// Calls <paramref name="onLine"/> with every retained line and then with each line that
    /// arrives, each exactly once and in order: what was printed before the caller looked (a
    /// restored guest runs before its restore returns) is not lost, and none is repeated.
    /// </summary>
    public void Follow(Action<string> onLine)
    {
        ArgumentNullException.ThrowIfNull(onLine);
        lock (_lock)
        {
            foreach (string line in _recent)
            {
                onLine(line);
            }

            _followers = [.. _followers, onLine];
        }
    }

    internal void Append(string line)
    {
        List<Waiter>? matched = null;
        Action<string>[] followers;
        lock (_lock)
        {
            // Taken with the line: a follower added after this point replays the line instead.
            followers = _followers;
            _count++;
            _recent.Enqueue(line);
            if (_recent.Count > retainedLines)
            {
                _recent.Dequeue();
            }

            foreach (Waiter waiter in _waiters)
            {
                if (waiter.Match(line))
                {
                    (matched ??= []).Add(waiter);
                }
            }

            if (matched is not null)
            {
                _waiters.RemoveAll(matched.Contains);
            }
        }

        foreach (Waiter waiter in matched ?? [])
        {
            waiter.Result.TrySetResult(line);
        }

        foreach (Action<string> follower in followers)
        {
            follower(line);
        }

        LineReceived?.Invoke(line);
    }

    internal void Close(Exception reason)
    {
        List<Waiter> waiters;
        lock (_lock)
        {
            _closed ??= reason;
            waiters = [.. _waiters];
            _waiters.Clear();
        }

        foreach (Waiter waiter in waiters)
        {
            waiter.Result.TrySetException(new InvalidOperationException($"the console closed without the line awaited: {reason.Message}", reason));
        }
    }

    private void End(Waiter waiter, Exception reason)
    {
        lock (_lock)
        {
            if (!_waiters.Remove(waiter))
            {
                return;
            }
        }

        waiter.Result.TrySetException(reason);
    }

    private sealed class Waiter(Func<string, bool> match)
    {
        public Func<string, bool> Match { get; } = match;

        public TaskCompletionSource<string> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
