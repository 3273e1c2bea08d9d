using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Testing;
using Replicator.Core.Vm;

namespace Replicator.Hosts.Testing;

/// <summary>
/// The planted defect <see cref="PlantedBug.AckBeforeJournalDurable"/>, laid over the secondary
/// host's engine actions rather than written into them: each epoch is acknowledged as it is handed
/// to the journal, before its flush completed. The host's own code has no planted path.
/// </summary>
internal sealed class PlantedAckBeforeJournalDurable(ISecondaryActions inner) : ISecondaryActions
{
    /// <summary>The actions the host gives its engine: <paramref name="actions"/> itself unless this plant is on.</summary>
    public static ISecondaryActions Wrap(ISecondaryActions actions, PlantedBug plant) =>
        plant == PlantedBug.AckBeforeJournalDurable ? new PlantedAckBeforeJournalDurable(actions) : actions;

    public void PersistEpoch(EpochLog epoch)
    {
        ArgumentNullException.ThrowIfNull(epoch);
        inner.PersistEpoch(epoch);
        inner.AcknowledgeEpoch(epoch.Epoch);
    }

    public void StageRecord(EpochLog epoch, in MirrorRecord record, ulong recordHash) => inner.StageRecord(epoch, record, recordHash);

    public void AcknowledgeEpoch(long epoch) => inner.AcknowledgeEpoch(epoch);

    public void WriteImage(in MirrorRecord record) => inner.WriteImage(record);

    public void FlushImage() => inner.FlushImage();

    public void ApplyVmSnapshot(VmSnapshot snapshot) => inner.ApplyVmSnapshot(snapshot);

    public void MarkApplied(long epoch, long lastSequence) => inner.MarkApplied(epoch, lastSequence);

    public void ReturnCredit(long bytes) => inner.ReturnCredit(bytes);

    public void RejectEpoch(long epoch, string reason) => inner.RejectEpoch(epoch, reason);

    public void TakingOver(long epoch, CommittedOverlay overlay) => inner.TakingOver(epoch, overlay);

    public void Promoted(long epoch) => inner.Promoted(epoch);
}
