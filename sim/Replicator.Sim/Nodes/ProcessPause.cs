using Replicator.Sim.World;

namespace Replicator.Sim.Nodes;

/// <summary>
/// A stopped process (SIGSTOP, a VM stall, a long GC): whatever reaches it while stopped — frames,
/// link events, timer ticks, storage completions — waits, and runs when it wakes, in the order it
/// came. Events keep queueing behind the ones held until all of those ran, so one that was due at
/// the very moment of waking never overtakes an earlier one (frames of a connection stay in order).
/// </summary>
internal sealed class ProcessPause(SimScheduler clock)
{
    private readonly Queue<Action> _held = new();
    private long _until;
    private bool _waking;

    // While it wakes, what it held runs as the process's own: an entry point that asks again is not held again.
    public bool IsPaused => !_waking && (clock.Now < _until || _held.Count > 0);

    /// <summary>Stops the process for <paramref name="duration"/> (or longer, when it is stopped already).</summary>
    public void Pause(long duration)
    {
        long until = clock.Now + duration;
        if (until <= _until)
        {
            return;
        }

        bool wakeScheduled = clock.Now < _until;
        _until = until;
        if (!wakeScheduled)
        {
            clock.At(_until, Wake);
        }
    }

    /// <summary>Runs <paramref name="action"/> now, or holds it until the process wakes.</summary>
    public void Run(Action action)
    {
        if (IsPaused)
        {
            _held.Enqueue(action);
            return;
        }

        action();
    }

    /// <summary>Drops what is held: the process died while stopped.</summary>
    public void Clear()
    {
        _held.Clear();
        _until = 0;
    }

    private void Wake()
    {
        if (clock.Now < _until)
        {
            // Stopped again for longer meanwhile.
            clock.At(_until, Wake);
            return;
        }

        _waking = true;
        try
        {
            while (_held.TryDequeue(out Action? action))
            {
                action();
            }
        }
        finally
        {
            _waking = false;
        }
    }
}
