using Replicator.Core.Epochs;
using Replicator.Core.Vm;

namespace Replicator.Core.Secondary;

/// <summary>
/// What the secondary's state machine asks of the world. Calls only queue work and never call
/// back into the engine. Image actions run one after another in the order given (a flush
/// completes, and a FUA write is durable, before the next starts); journal appends run in the
/// order given too, and may overlap the image actions, since an epoch's image actions are only
/// asked for once its journal entry is durable.
/// </summary>
public interface ISecondaryActions
{
    /// <summary>
    /// Write the sealed epoch (its records in sequence order and its snapshot) to the journal and
    /// make it durable, then report <see cref="SecondaryEngine.OnEpochPersisted"/>. This is the commit point.
    /// </summary>
    void PersistEpoch(EpochLog epoch);

    /// <summary>
    /// A record joined the epoch that commits next, before its checkpoint: it may be written to the
    /// journal now, ahead of <see cref="PersistEpoch"/>, so that the commit is left with the
    /// checkpoint and one flush. Nothing written ahead counts until that commit, which takes it only
    /// for the same <see cref="EpochLog.Incarnation"/> and writes whatever it lacks. Ignoring it loses
    /// nothing (the commit then writes the whole epoch), hence the empty default.
    /// <paramref name="recordHash"/> is the record's <see cref="EpochDigest.RecordHash"/>, which the
    /// journal's checksum takes in place of the payload.
    /// </summary>
    void StageRecord(EpochLog epoch, in MirrorRecord record, ulong recordHash)
    {
    }

    /// <summary>Tell the primary that this epoch (and every earlier one) is committed.</summary>
    void AcknowledgeEpoch(long epoch);

    /// <summary>Write one record (write, write-zeroes or trim) into the image; with FUA it is durable when done.</summary>
    void WriteImage(in MirrorRecord record);

    /// <summary>Make every image write issued so far durable.</summary>
    void FlushImage();

    /// <summary>Apply the checkpoint's VM state changes to the stored VM state.</summary>
    void ApplyVmSnapshot(VmSnapshot snapshot);

    /// <summary>
    /// Record durably that the image and VM state now hold this epoch, release its journal space,
    /// then report <see cref="SecondaryEngine.OnApplied"/>.
    /// </summary>
    void MarkApplied(long epoch, long lastSequence);

    /// <summary>Give the primary back this much buffer credit: the bytes left the secondary's RAM.</summary>
    void ReturnCredit(long bytes);

    /// <summary>An epoch was refused and will never commit; tell the primary and the operator why.</summary>
    void RejectEpoch(long epoch, string reason);

    /// <summary>
    /// The promotion's checkpoint is settled: the image with <paramref name="overlay"/> laid over it
    /// holds checkpoint <paramref name="epoch"/>, and nothing more will commit. The node may serve
    /// through the overlay from now on while the committed epochs drain into the image; the overlay
    /// closes just before <see cref="Promoted"/>.
    /// </summary>
    void TakingOver(long epoch, CommittedOverlay overlay);

    /// <summary>Failover is complete: the image and VM state alone hold checkpoint <paramref name="epoch"/>, crash-consistent and durable.</summary>
    void Promoted(long epoch);
}
