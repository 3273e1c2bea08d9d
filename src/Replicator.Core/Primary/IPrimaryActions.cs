using Replicator.Core.Blocks;
using Replicator.Core.Epochs;

namespace Replicator.Core.Primary;

/// <summary>
/// What the primary's state machine asks of the world. The driver (runtime, simulator or test)
/// implements it. Calls must only queue work: never block, and never call back into the engine
/// from inside a call, so that every event is handled to the end before the next one starts.
/// </summary>
public interface IPrimaryActions
{
    /// <summary>
    /// Perform the request on the primary's own disk and report <see cref="PrimaryEngine.OnLocalCompleted"/>.
    /// A flush makes every completed write durable; a FUA write is durable when it completes.
    /// </summary>
    void IssueLocal(long requestId, BlockRequest request, ReadOnlyMemory<byte> payload);

    /// <summary>Send one record to the secondary. Records of an epoch precede its checkpoint on the link.</summary>
    void SendMirror(in MirrorRecord record);

    /// <summary>Tell the guest its request ended. The core holds no reference to the payload after this.</summary>
    void CompleteGuest(long requestId, RequestStatus status);

    /// <summary>Stop the guest's vCPUs (checkpoint start). Requests already submitted still arrive and are queued.</summary>
    void PauseGuest();

    /// <summary>Capture the VM state changed since the previous checkpoint and report <see cref="PrimaryEngine.OnVmCaptured"/>.</summary>
    void CaptureVmState(long epoch);

    /// <summary>Restart the guest's vCPUs: it now runs in the next epoch while the checkpoint travels.</summary>
    void ResumeGuest();

    /// <summary>Send the checkpoint that closes an epoch, after all of the epoch's records.</summary>
    void SendCheckpoint(CheckpointRecord checkpoint);

    /// <summary>The secondary committed this epoch (and all before it). Explicit checkpoint waiters may return.</summary>
    void CheckpointCommitted(long epoch);

    /// <summary>
    /// The guest's output may now reach the outside world (I5). <paramref name="protectedByReplica"/>
    /// is false when it is released because replication is degraded, not because its epoch committed.
    /// </summary>
    void ReleaseOutput(long outputId, bool protectedByReplica);

    /// <summary>Replication stopped: the secondary no longer follows. The guest keeps running on the primary.</summary>
    void SecondaryDegraded(string reason);

    /// <summary>
    /// A resync begins on the new link: tell the secondary (before any record of the plan's first
    /// epoch) where the new stream of epochs and sequence numbers starts.
    /// </summary>
    void SendResyncStart(ResyncPlan plan);

    /// <summary>
    /// Read this range of the primary's own disk for the resync and report
    /// <see cref="PrimaryEngine.OnResyncReadCompleted"/> with the bytes read.
    /// </summary>
    void ReadForResync(long readId, long offset, int length);

    /// <summary>
    /// Like <see cref="CaptureVmState"/>, but the whole VM state (every page): the first checkpoint
    /// after a resync start, since the secondary may lack changes captured in epochs it never committed.
    /// </summary>
    void CaptureWholeVmState(long epoch);

    /// <summary>
    /// The resync is complete and acknowledged: the secondary's committed image and VM state equal the
    /// primary's at <paramref name="epoch"/> (I7). The pair is protected again.
    /// </summary>
    void PairProtected(long epoch);
}
