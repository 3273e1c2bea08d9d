namespace Replicator.Core.Secondary;

/// <summary>
/// A new link from the same primary: the old stream's open epochs go, and a resync start says where
/// the new stream begins. Until the resync completes, the committed image is no checkpoint.
/// </summary>
public sealed partial class SecondaryEngine
{
    // The epoch whose checkpoint must say it starts the resync (0: none announced).
    private long _resyncFirstEpoch;
    private bool _resyncRunning;
    private bool _lastSealedMidResync;
    private bool _journalFailed;

    /// <summary>
    /// The last committed epoch left the image mid-resync (<see cref="Epochs.CheckpointRecord.ResyncPending"/>):
    /// some regions are newer than others, so the image is no checkpoint and this node must not be promoted.
    /// </summary>
    public bool CommittedMidResync { get; private set; }

    /// <summary>A resync was started on this link, or an interrupted one left the image mid-resync.</summary>
    public bool IsResyncing => _resyncRunning || CommittedMidResync;

    /// <summary>Epochs sealed and handed to the journal but not yet durable: what the node holds is still moving.</summary>
    public int EpochsBeingCommitted => _persisting.Count;

    /// <summary>
    /// The link to the primary is gone. Its open epochs can never complete (the primary degrades and
    /// starts a new stream when it comes back), so they go now and their buffer space with them.
    /// Sealed epochs still commit.
    /// </summary>
    public void OnPrimaryLost()
    {
        // An acknowledgement the write-back held for that stream is not one for the next link's:
        // the next primary learns what is committed from the welcome.
        _withheldAck = 0;
        if (Phase is SecondaryPhase.Replicating or SecondaryPhase.Stalled)
        {
            DiscardOpenEpochs(returnCredit: false);
            _resyncRunning = false;
        }
    }

    /// <summary>
    /// The primary, on a new link, resyncs this node: it confirms the checkpoint this node holds
    /// (<paramref name="baseEpoch"/>) and names where its new stream begins. That explicit message is
    /// the only thing that lets epoch and sequence numbers jump (I3 otherwise refuses any gap); the
    /// first epoch must carry <see cref="Epochs.CheckpointRecord.StartsResync"/> too, so a journal
    /// replay accepts the same jump. A stall is lifted: the resync replaces whatever was refused.
    /// Returns null when accepted, otherwise why not (the link should then close).
    /// </summary>
    public string? OnResyncStart(long baseEpoch, long firstEpoch, long firstSequence)
    {
        string? refusal = Phase is SecondaryPhase.Promoting or SecondaryPhase.Promoted ? "this node has been promoted: it follows no primary any more"
            : _journalFailed ? "this node's journal failed: it can commit nothing more"
            : _persisting.Count > 0 || baseEpoch != LastCommittedEpoch ? $"the resync starts from checkpoint {baseEpoch}, but this node holds {LastCommittedEpoch}{(_persisting.Count > 0 ? $" with {_persisting.Count} more being committed" : string.Empty)}"
            : firstEpoch <= _lastSealedEpoch || firstSequence <= _lastSealedSequence ? $"the new stream would start at epoch {firstEpoch}, sequence {firstSequence}, not after epoch {_lastSealedEpoch}, sequence {_lastSealedSequence}"
            : null;
        if (refusal is not null)
        {
            return refusal;
        }

        // Epochs before the new stream's first are the old stream's and can never complete. The new
        // stream's numbers were never used before, so records of it that overtook this start are kept.
        DiscardOpenEpochsBefore(firstEpoch);
        Phase = SecondaryPhase.Replicating;
        StallReason = null;
        _lastSealedEpoch = firstEpoch - 1;
        _lastSealedSequence = firstSequence - 1;
        _resyncFirstEpoch = firstEpoch;
        _resyncRunning = true;
        SealCompleteEpochs();
        return null;
    }
}
