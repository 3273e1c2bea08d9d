namespace Replicator.Core.Primary;

/// <summary>Output commit (I5) and what happens when the secondary stops following.</summary>
public sealed partial class PrimaryEngine
{
    /// <summary>
    /// The guest produced output for the outside world (a network packet, a reply to a client).
    /// It is released by <see cref="IPrimaryActions.ReleaseOutput"/> once the epoch that produced it
    /// is committed on the secondary.
    /// </summary>
    public void SubmitOutput(long outputId)
    {
        if (IsDegraded && _options.DegradedOutputPolicy == DegradedOutputPolicy.ReleaseUnprotected)
        {
            _actions.ReleaseOutput(outputId, protectedByReplica: false);
            return;
        }

        // While a checkpoint is being taken the guest is paused; anything reported now is charged
        // to the next epoch, which can only delay its release, never advance it.
        long epoch = Phase == PrimaryPhase.Running ? CurrentEpoch : CurrentEpoch + 1;
        _outputs.Hold(outputId, epoch);
    }

    /// <summary>An operator's decision, under <see cref="DegradedOutputPolicy.Hold"/>, to let held output go unprotected.</summary>
    public void ReleaseHeldOutputsUnprotected() => _outputs.ReleaseAllUnprotected(_actions);

    /// <summary>The link to the secondary failed, a mirror could not be sent, or heartbeats stopped.</summary>
    public void OnSecondaryLost(string reason) => Degrade(reason);

    /// <summary>The secondary refused an epoch (digest mismatch, gap, bad record): its copy can no longer follow.</summary>
    public void OnEpochRejected(long epoch, string reason) => Degrade($"the secondary rejected epoch {epoch}: {reason}");

    /// <summary>
    /// The disk regions (of <see cref="PrimaryOptions.DirtyRegionBytes"/> each) that the secondary may
    /// lack: written after the last acknowledged epoch, or whose local write failed.
    /// </summary>
    public IEnumerable<long> RegionsSecondaryMayLack() => _dirtyRegions.RegionsNewerThan(LastAcknowledgedEpoch);

    private void Degrade(string reason)
    {
        _waitingResync = null;
        if (!_mirroring)
        {
            return;
        }

        // A mirror that fails is never ignored: from here on writes are local only, the region map
        // remembers what the secondary lacks, and the operator is told. Requests in flight now
        // belong to the ended stream and are never mirrored (see OnLocalCompleted).
        _mirroring = false;
        _session++;
        Replication = PrimaryReplication.Degraded;
        DegradedReason = reason;
        StopResync();
        StopVerify();
        _checkpointWanted = false;
        _unacknowledged.Clear();
        _actions.SecondaryDegraded(reason);
        if (_options.DegradedOutputPolicy == DegradedOutputPolicy.ReleaseUnprotected)
        {
            _outputs.ReleaseAllUnprotected(_actions);
        }

        if (Phase == PrimaryPhase.Running)
        {
            AdmitQueued();
        }
    }
}
