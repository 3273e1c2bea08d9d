using Replicator.Core.Primary;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Primary;

/// <summary>
/// Checkpoints: the interval and explicit ones, the waiters of explicit ones (they return once the
/// checkpoint is acknowledged and the pair protected, and fail when replication degrades), the
/// clean stop that records where both images are equal, and each checkpoint's timings.
/// </summary>
public sealed partial class PrimaryHost
{
    private readonly List<Waiter> _waiters = new();
    private readonly Queue<(long Epoch, long Start)> _checkpointStarts = new();
    private readonly Dictionary<long, long> _resumedAt = new();
    private readonly Dictionary<long, (long Drained, long Handed, long PageBytes, long PageWireBytes)> _phaseStamps = new();
    private readonly Dictionary<long, AckTimings> _ackTimings = new();
    private bool _stoppingCleanly;

    // The start of the oldest checkpoint not yet acknowledged (0: none), for the lag gauge on another thread.
    private long _oldestUnacknowledgedStart;

    /// <summary>How long the oldest checkpoint not yet acknowledged has waited; zero when none waits (any thread).</summary>
    public TimeSpan OldestUnacknowledgedAge
    {
        get
        {
            long start = Volatile.Read(ref _oldestUnacknowledgedStart);
            return start == 0 ? TimeSpan.Zero : _time.GetElapsedTime(start);
        }
    }

    /// <summary>The checkpoints' RAM pages sent so far, as captured and on the link (any thread).</summary>
    public PageTraffic PageTraffic { get; } = new();

    /// <summary>What the running sync has still to copy (zero when none runs), as its progress says (any thread).</summary>
    public long SyncBytesLeft => Sync is { Completed: false } sync ? sync.TotalBytes - sync.CopiedBytes : 0;

    /// <summary>The shell's epoch timer fired: an interval checkpoint (none once a clean stop began).</summary>
    public void OnEpochTick()
    {
        FeedSyncBudget();
        if (!_stoppingCleanly)
        {
            _engine?.RequestCheckpoint(CheckpointTrigger.Interval);
        }
    }

    /// <summary>
    /// A checkpoint now. <see cref="IPrimaryHostActions.CheckpointWaiterCompleted"/> reports it under
    /// <paramref name="waiterId"/> once the secondary acknowledged it and the pair is protected;
    /// <see cref="IPrimaryHostActions.CheckpointWaiterFailed"/> if replication is or becomes degraded first.
    /// </summary>
    public void RequestCheckpoint(long waiterId) => AddWaiter(new Waiter(waiterId, 0, CleanStop: false));

    /// <summary>
    /// A clean stop: no interval checkpoint follows; a last one is taken and, once acknowledged, the
    /// state record says both images are equal at it, so the pair may start again from there. The
    /// waiter then completes with that epoch. Call with the guest quiet.
    /// </summary>
    public void StopCleanly(long waiterId)
    {
        _stoppingCleanly = true;
        AddWaiter(new Waiter(waiterId, 0, CleanStop: true));
    }

    private void AddWaiter(Waiter waiter)
    {
        if (_engine is not { } engine)
        {
            FailWaiter(waiter.Id, "no checkpoint: the primary is not running");
            return;
        }

        long epoch = engine.RequestCheckpoint(CheckpointTrigger.Explicit);
        if (epoch == PrimaryEngine.NoCheckpoint)
        {
            FailWaiter(waiter.Id, $"no checkpoint: replication is degraded ({engine.DegradedReason})");
            return;
        }

        _waiters.Add(waiter with { Epoch = epoch });
    }

    private void OnCheckpointCommitted(long epoch)
    {
        long now = _time.GetTimestamp();
        while (_checkpointStarts.TryPeek(out var started) && started.Epoch <= epoch)
        {
            _checkpointStarts.Dequeue();
            _resumedAt.Remove(started.Epoch, out long resumed);
            CheckpointTiming timing = WithPhases(
                new CheckpointTiming(started.Epoch, _time.GetElapsedTime(started.Start, resumed == 0 ? now : resumed), _time.GetElapsedTime(started.Start, now)),
                started.Start);
            _metrics?.CheckpointAcknowledged(timing);
            _actions.CheckpointCompleted(timing);
        }

        NoteOldestUnacknowledged();

        FinishVerifyIfDone();

        // During a resync an acknowledgement is a commit, not yet protection: waiters wait for both.
        if (_engine!.Replication != PrimaryReplication.Protected)
        {
            return;
        }

        for (int i = 0; i < _waiters.Count; i++)
        {
            Waiter waiter = _waiters[i];
            if (waiter.Epoch > epoch)
            {
                continue;
            }

            _waiters.RemoveAt(i--);
            long acknowledged = waiter.Epoch;
            if (waiter.CleanStop)
            {
                acknowledged = Math.Max(waiter.Epoch, _engine.LastAcknowledgedEpoch);
                _state = _state! with { AppliedEpoch = acknowledged, AppliedLastSequence = _engine.LastSequenceAssigned };
                _states.Save(_state);
                if (CloseDirtyLog(waiter.Id))
                {
                    continue; // completed once the log says it is closed
                }
            }

            CompleteCleanStop(waiter.Id, acknowledged);
        }
    }

    /// <summary>The engine stopped replicating: waiters fail, timings of the ended stream are dropped, the link is retired.</summary>
    private void OnDegraded(string reason)
    {
        // Before any write is acknowledged with no secondary following (none is, once handed over).
        try
        {
            if (!HandedOver)
            {
                BeginUnprotectedGeneration();
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            FailGuestWrites($"the new data generation could not be recorded in {_states.Path} ({e.Message}): no guest request is acknowledged unprotected without it; every request fails until the primary is restarted");
        }

        if (!_options.Unreplicated)
        {
            Log.Degraded(_log, reason);
        }

        foreach (Waiter waiter in _waiters)
        {
            FailWaiter(waiter.Id, $"replication is degraded: {reason}");
        }

        _waiters.Clear();
        FailVerify($"replication is degraded: {reason}");

        // Checkpoints of the ended stream will never be acknowledged: their timings would lie.
        _checkpointStarts.Clear();
        NoteOldestUnacknowledged();
        _metrics?.Degraded();
        _resumedAt.Clear();
        _phaseStamps.Clear();
        _ackTimings.Clear();
        RetireLink(reason);
        _actions.ReplicationChanged(PrimaryReplication.Degraded, reason);
    }

    private void NoteCheckpointStarted()
    {
        _checkpointStarts.Enqueue((_engine!.CurrentEpoch, _time.GetTimestamp()));
        NoteOldestUnacknowledged();
    }

    private void NoteOldestUnacknowledged() =>
        Volatile.Write(ref _oldestUnacknowledgedStart, _checkpointStarts.TryPeek(out var oldest) ? oldest.Start : 0);

    private void NoteResumed()
    {
        if (_checkpointStarts.Count > 0)
        {
            // The newest started checkpoint is the one resuming; keep its pause with it.
            (long epoch, _) = _checkpointStarts.Last();
            _resumedAt[epoch] = _time.GetTimestamp();
        }
    }

    private void NoteDrained(long epoch) => _phaseStamps[epoch] = (_time.GetTimestamp(), 0, 0, 0);

    private void NoteHandedToLink(long epoch, long pageBytes, long pageWireBytes)
    {
        if (_phaseStamps.TryGetValue(epoch, out var stamps))
        {
            _phaseStamps[epoch] = stamps with { Handed = _time.GetTimestamp(), PageBytes = pageBytes, PageWireBytes = pageWireBytes };
        }
    }

    private void NoteAckTimings(long epoch, AckTimings? timings)
    {
        if (timings is not null)
        {
            _ackTimings[epoch] = timings;
        }
    }

    /// <summary>The commit's phases: drain and capture measured here, the secondary's own report, the link the rest.</summary>
    private CheckpointTiming WithPhases(CheckpointTiming timing, long started)
    {
        _phaseStamps.Remove(timing.Epoch, out var stamps);
        _ackTimings.Remove(timing.Epoch, out AckTimings? secondary);
        timing = timing with { PageBytes = stamps.PageBytes, PageWireBytes = stamps.PageWireBytes };
        if (stamps.Drained == 0 || stamps.Handed == 0)
        {
            return timing with { Secondary = secondary };
        }

        TimeSpan drain = _time.GetElapsedTime(started, stamps.Drained);
        TimeSpan capture = _time.GetElapsedTime(stamps.Drained, stamps.Handed);
        TimeSpan onSecondary = secondary is null
            ? TimeSpan.Zero
            : TimeSpan.FromMicroseconds(secondary.QueueMicroseconds + secondary.JournalWriteMicroseconds + secondary.JournalFlushMicroseconds + secondary.AckMicroseconds);
        TimeSpan link = timing.Commit - drain - capture - onSecondary;
        return timing with { Drain = drain, Capture = capture, Link = link < TimeSpan.Zero ? TimeSpan.Zero : link, Secondary = secondary };
    }

    /// <summary>An explicit checkpoint's waiter: the shell's id, the epoch it waits for, and whether it ends a clean stop.</summary>
    private readonly record struct Waiter(long Id, long Epoch, bool CleanStop);
}
