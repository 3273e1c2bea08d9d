using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Vm;

namespace Replicator.Core.Testing;

/// <summary>
/// The secondary engine's planted bugs, laid over its actions instead of written into its commit
/// and failover code: the engine itself has no planted path, so the commit point, the barriers and
/// the promotion are the product's code only (and mutation testing measures that code alone).
/// The simulator switches one on through <see cref="SecondaryOptions.Plant"/>.
/// </summary>
internal sealed class PlantedSecondaryActions : ISecondaryActions
{
    private readonly ISecondaryActions _inner;
    private readonly PlantedBug _plant;
    private readonly SecondaryEngine _engine;
    private bool _flushHeld;

    private PlantedSecondaryActions(ISecondaryActions inner, PlantedBug plant, SecondaryEngine engine)
    {
        _inner = inner;
        _plant = plant;
        _engine = engine;
    }

    /// <summary>The actions the engine uses: <paramref name="actions"/> itself unless a secondary-engine plant is on.</summary>
    public static ISecondaryActions Wrap(ISecondaryActions actions, PlantedBug plant, SecondaryEngine engine) =>
        plant is PlantedBug.AckBeforeCommit or PlantedBug.IgnoreBarriers or PlantedBug.DiscardCommitted
            ? new PlantedSecondaryActions(actions, plant, engine)
            : actions;

    public void PersistEpoch(EpochLog epoch)
    {
        if (_plant == PlantedBug.AckBeforeCommit)
        {
            // Acknowledged as it is handed to the journal, before the commit point.
            _inner.AcknowledgeEpoch(epoch.Epoch);
        }

        _inner.PersistEpoch(epoch);
    }

    public void StageRecord(EpochLog epoch, in MirrorRecord record, ulong recordHash) => _inner.StageRecord(epoch, record, recordHash);

    public void AcknowledgeEpoch(long epoch)
    {
        if (_plant != PlantedBug.AckBeforeCommit)
        {
            _inner.AcknowledgeEpoch(epoch); // under the plant it already left
        }
    }

    public void WriteImage(in MirrorRecord record)
    {
        if (_plant == PlantedBug.DiscardCommitted && _engine.Phase == SecondaryPhase.Promoting)
        {
            return; // the committed epochs still waiting to be applied at promotion are thrown away
        }

        if (_plant == PlantedBug.IgnoreBarriers)
        {
            // A flush recorded between two writes is dropped, and no write is durable on its own.
            _flushHeld = false;
            _inner.WriteImage(record with { Request = record.Request with { Fua = false } });
            return;
        }

        _inner.WriteImage(record);
    }

    public void FlushImage()
    {
        if (_plant == PlantedBug.IgnoreBarriers)
        {
            // Held: it is only issued when no write follows, i.e. as the flush that ends an epoch's apply.
            _flushHeld = true;
            return;
        }

        _inner.FlushImage();
    }

    public void ApplyVmSnapshot(VmSnapshot snapshot)
    {
        IssueHeldFlush();
        _inner.ApplyVmSnapshot(snapshot);
    }

    public void MarkApplied(long epoch, long lastSequence)
    {
        IssueHeldFlush();
        _inner.MarkApplied(epoch, lastSequence);
    }

    public void ReturnCredit(long bytes) => _inner.ReturnCredit(bytes);

    public void RejectEpoch(long epoch, string reason) => _inner.RejectEpoch(epoch, reason);

    public void TakingOver(long epoch, CommittedOverlay overlay) => _inner.TakingOver(epoch, overlay);

    public void Promoted(long epoch)
    {
        IssueHeldFlush();
        _inner.Promoted(epoch);
    }

    private void IssueHeldFlush()
    {
        if (_flushHeld)
        {
            _flushHeld = false;
            _inner.FlushImage();
        }
    }
}
