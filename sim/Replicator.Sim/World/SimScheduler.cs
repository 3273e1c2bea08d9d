namespace Replicator.Sim.World;

/// <summary>
/// The simulated world's only clock and event queue. Time is virtual (microseconds) and moves only
/// from one event to the next; events due at the same instant run in the order they were
/// scheduled, so a run depends on nothing but its seed.
/// </summary>
internal sealed class SimScheduler
{
    private readonly PriorityQueue<Action, (long Time, long Order)> _queue = new();
    private long _order;

    public long Now { get; private set; }

    public long EventsRun { get; private set; }

    public void At(long time, Action action) => _queue.Enqueue(action, (Math.Max(time, Now), _order++));

    public void After(long delay, Action action) => At(Now + Math.Max(0, delay), action);

    /// <summary>Runs events until the queue is empty or the next is later than <paramref name="until"/>; the clock ends at <paramref name="until"/> at most.</summary>
    public void RunUntil(long until, Func<bool>? stop = null)
    {
        while (_queue.TryPeek(out _, out var due) && due.Time <= until)
        {
            if (stop?.Invoke() == true)
            {
                return;
            }

            Action action = _queue.Dequeue();
            Now = due.Time;
            EventsRun++;
            action();
        }

        Now = Math.Max(Now, until);
    }
}
