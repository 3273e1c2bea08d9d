using Replicator.Core.Epochs;

namespace Replicator.Core.Secondary;

/// <summary>Failover, and reads that see the newest committed data while epochs drain.</summary>
public sealed partial class SecondaryEngine
{
    /// <summary>Why <see cref="Promote"/> would refuse now, or null: asked before a vote is sought, so none is spent on a node that cannot take over.</summary>
    public string? PromotionRefusal =>
        Phase is SecondaryPhase.Promoting or SecondaryPhase.Promoted || !_lastSealedMidResync ? null
        // Sealed epochs commit during promotion, so the last sealed one is where it would land.
        : $"the image is in the middle of a resync (epoch {_lastSealedEpoch} left it with some regions newer than others): it holds no checkpoint to take over from";

    /// <summary>
    /// Promote this node (heartbeats stopped, or an operator said so). Incomplete epochs are
    /// discarded; once no journal write is under way the checkpoint is settled and
    /// <see cref="ISecondaryActions.TakingOver"/> hands out the committed epochs as an overlay, through
    /// which the node may serve at once; they drain into the image with their flushes meanwhile, and
    /// then <see cref="ISecondaryActions.Promoted"/> says the image and VM state alone hold that
    /// checkpoint (I2). From now on nothing from the old primary is taken (I6). Returns null when
    /// promoting, or why this node must not take over: in the middle of a resync its image is no
    /// checkpoint at all.
    /// </summary>
    public string? Promote()
    {
        if (Phase is SecondaryPhase.Promoting or SecondaryPhase.Promoted)
        {
            return null;
        }

        if (PromotionRefusal is { } refused)
        {
            return refused;
        }

        Phase = SecondaryPhase.Promoting;
        DiscardOpenEpochs(returnCredit: false);

        TakeOverIfSettled();
        CompletePromotionIfDrained();
        return null;
    }

    /// <summary>The committed epochs a promotion serves through while they drain; null before its checkpoint is settled.</summary>
    public CommittedOverlay? Takeover { get; private set; }

    /// <summary>
    /// Lays the committed-but-unapplied epochs over <paramref name="destination"/>, which the caller
    /// filled from the image at <paramref name="offset"/>: the result is the newest committed data.
    /// </summary>
    public void OverlayCommitted(long offset, Span<byte> destination)
    {
        foreach (EpochLog log in _committed)
        {
            foreach (ref readonly BufferedRecord held in log.Records)
            {
                CommittedOverlay.Lay(held.Record, offset, destination);
            }
        }
    }

    /// <summary>
    /// Once promoting and no journal write is under way, nothing more can commit: the checkpoint is
    /// the last committed epoch, and the committed epochs not yet in the image become the overlay the
    /// new primary reads through. Their payloads are the overlay's from here until it closes.
    /// </summary>
    private void TakeOverIfSettled()
    {
        if (Phase != SecondaryPhase.Promoting || Takeover is not null || _persisting.Count > 0)
        {
            return;
        }

        Takeover = new CommittedOverlay(LastCommittedEpoch, _committed);
        _actions.TakingOver(LastCommittedEpoch, Takeover);
    }

    private void CompletePromotionIfDrained()
    {
        TakeOverIfSettled();
        if (Phase == SecondaryPhase.Promoting && _persisting.Count == 0 && _committed.Count == 0)
        {
            // Every batch's state record is durable: nothing overlapping the overlay can be replayed
            // over a new write any more, so writes that waited may go, and reads need the image alone.
            Takeover!.Close();
            Phase = SecondaryPhase.Promoted;
            _actions.Promoted(LastAppliedEpoch);
        }
    }
}
