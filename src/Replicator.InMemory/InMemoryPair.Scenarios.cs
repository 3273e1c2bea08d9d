namespace Replicator.InMemory;

/// <summary>
/// What a test or the demo does to the pair from outside: explicit checkpoints through the primary's
/// host, and the faults — a primary that dies, failover, a power cut of the secondary and its
/// restart, a pulled cable and its return. Each fault acts on the world (nodes, links, disks); what
/// follows is the hosts' to decide.
/// </summary>
public sealed partial class InMemoryPair
{
    /// <summary>
    /// Asks the primary's host for a checkpoint and runs until it reports it acknowledged with the pair
    /// protected; returns its epoch. Throws when the host reports it failed or nothing more could happen.
    /// </summary>
    public long Checkpoint(long maxSteps = 1_000_000)
    {
        long waiter = _primary.NewWaiter();
        PrimaryHost.RequestCheckpoint(waiter);
        DeliverNotices();
        RunUntil(() => _primary.OutcomeOf(waiter) is not null, maxSteps);
        return _primary.OutcomeOf(waiter) switch
        {
            { Failure: null } done => done.Epoch,
            { Failure: { } failure } => throw new InvalidOperationException($"the checkpoint was not acknowledged: {failure}"),
            null => throw new InvalidOperationException($"the checkpoint was not acknowledged: {DegradedReason ?? "the pair stopped"}"),
        };
    }

    /// <summary>Asks the primary's host for a checkpoint and returns at once; its outcome is the host's to report.</summary>
    public void RequestCheckpoint()
    {
        PrimaryHost.RequestCheckpoint(_primary.NewWaiter());
        DeliverNotices();
    }

    /// <summary>A checkpoint (see <see cref="Checkpoint"/>), then runs until everything settled; returns its epoch.</summary>
    public long CheckpointAndSettle()
    {
        long epoch = Checkpoint();
        RunToQuiescence();
        return epoch;
    }

    /// <summary>The primary dies. Frames already on the way to the secondary arrive if <paramref name="deliverInFlight"/>, else they are lost with it.</summary>
    public void CrashPrimary(bool deliverInFlight)
    {
        PrimaryCrashed = true;
        LoseEnds(primary: true, deliverInFlight, "the primary's connection was reset");
    }

    /// <summary>
    /// Failover: the primary is gone (it dies now if it has not), what was on the way to the secondary
    /// arrives, and the secondary's host is told to promote; runs until it reports promotion. Checks I2
    /// and returns what the promoted node holds.
    /// </summary>
    public FailoverOutcome Failover()
    {
        if (!PrimaryCrashed)
        {
            CrashPrimary(deliverInFlight: true);
        }

        RunUntil(() => _toSecondary.IsEmpty || SecondaryDown);
        if (SecondaryHost.Promote("the primary is lost: failover") is { } refused)
        {
            throw new InvalidOperationException($"failover was refused: {refused}");
        }

        DeliverNotices();
        RunUntil(() => SecondaryHost.PromotedEpoch >= 0 && SecondaryHost.TakeoverDrained);
        if (SecondaryHost.PromotedEpoch < 0)
        {
            throw new InvalidOperationException($"failover did not complete: secondary is {Secondary.Phase}");
        }

        var outcome = new FailoverOutcome(SecondaryHost.PromotedEpoch, SecondaryImage.Contents.ToArray(), SecondaryHost.Store!.LoadVmState(), Primary.LastAcknowledgedEpoch, Primary.LastCheckpointStarted);
        if (VerifyFailover(outcome) is { } problem)
        {
            Violations.Add(problem);
        }

        return outcome;
    }

    /// <summary>The secondary loses power: its caches and work in progress are gone, and the primary hears its link close after what was already on the way.</summary>
    public void PowerCutSecondary()
    {
        _secondary.PowerCut(_powerCuts);
        LoseEnds(primary: false, deliverInFlight: true, "the secondary lost power");
    }

    /// <summary>Restarts the secondary from its durable state record and journal, as the daemon does at start.</summary>
    public void RestartSecondary() => _secondary.Restart();

    /// <summary>The cable is pulled: frames on the way either way are lost, acknowledgements included, and connections fail until <see cref="Reconnect"/>.</summary>
    public void CutLink()
    {
        _cableCut = true;
        CutLinks("the link was cut");
    }

    /// <summary>
    /// The cable is back. Runs until the primary's host has reconnected on its own backoff and begun a
    /// resync over the new link; null then, else why not.
    /// </summary>
    public string? Reconnect(long maxSteps = 100_000)
    {
        _cableCut = false;
        int resyncs = ResyncStarts.Count;
        RunUntil(() => ResyncStarts.Count > resyncs || _primary.FencedReason is not null || PrimaryCrashed, maxSteps);
        return ResyncStarts.Count > resyncs ? null : _primary.FencedReason ?? _primary.LastCloseReason ?? "the primary did not reconnect";
    }
}
