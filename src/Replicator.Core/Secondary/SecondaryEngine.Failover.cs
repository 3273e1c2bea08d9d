using Replicator.Core.Blocks;
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
    /// discarded; committed ones drain into the image with their flushes; then
    /// <see cref="ISecondaryActions.Promoted"/> names the one checkpoint image and VM state hold (I2).
    /// From now on nothing from the old primary is taken (I6). Returns null when promoting, or why
    /// this node must not take over: in the middle of a resync its image is no checkpoint at all.
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

        CompletePromotionIfDrained();
        return null;
    }

    /// <summary>
    /// Lays the committed-but-unapplied epochs over <paramref name="destination"/>, which the caller
    /// filled from the image at <paramref name="offset"/>: the result is the newest committed data.
    /// </summary>
    public void OverlayCommitted(long offset, Span<byte> destination)
    {
        long end = offset + destination.Length;
        foreach (EpochLog log in _committed)
        {
            foreach (ref readonly BufferedRecord held in log.Records)
            {
                BlockRequest request = held.Record.Request;
                if (!request.ChangesData || request.Offset >= end || request.End <= offset)
                {
                    continue;
                }

                long from = Math.Max(offset, request.Offset);
                int length = (int)(Math.Min(end, request.End) - from);
                Span<byte> target = destination.Slice((int)(from - offset), length);
                if (request.Op == BlockOp.Write)
                {
                    held.Record.Payload.Span.Slice((int)(from - request.Offset), length).CopyTo(target);
                }
                else
                {
                    target.Clear();
                }
            }
        }
    }

    private void CompletePromotionIfDrained()
    {
        if (Phase == SecondaryPhase.Promoting && _persisting.Count == 0 && _committed.Count == 0)
        {
            Phase = SecondaryPhase.Promoted;
            _actions.Promoted(LastAppliedEpoch);
        }
    }
}
