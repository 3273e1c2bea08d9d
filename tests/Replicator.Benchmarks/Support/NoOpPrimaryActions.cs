using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Primary;

namespace Replicator.Benchmarks.Support;

/// <summary>
/// Primary actions that do no I/O: the local disk, the link and the guest are infinitely fast and
/// free. The benchmark reports local completions and VM captures itself, since an action may not
/// call back into the engine.
/// </summary>
internal sealed class NoOpPrimaryActions : IPrimaryActions
{
    /// <summary>The epoch whose VM capture was asked for last, or 0.</summary>
    public long CaptureRequested { get; set; }

    /// <summary>The last checkpoint sent.</summary>
    public CheckpointRecord? LastCheckpoint { get; private set; }

    public void IssueLocal(long requestId, BlockRequest request, ReadOnlyMemory<byte> payload)
    {
    }

    public void SendMirror(in MirrorRecord record)
    {
    }

    public void CompleteGuest(long requestId, RequestStatus status)
    {
    }

    public void PauseGuest()
    {
    }

    public void CaptureVmState(long epoch) => CaptureRequested = epoch;

    public void ResumeGuest()
    {
    }

    public void SendCheckpoint(CheckpointRecord checkpoint) => LastCheckpoint = checkpoint;

    public void CheckpointCommitted(long epoch)
    {
    }

    public void ReleaseOutput(long outputId, bool protectedByReplica)
    {
    }

    public void SecondaryDegraded(string reason) =>
        throw new InvalidOperationException($"the benchmark's primary degraded: {reason}");

    // The benchmarks never lose the secondary, so no resync ever starts.
    public void SendResyncStart(ResyncPlan plan) => throw new InvalidOperationException("the benchmark's primary began a resync");

    public void ReadForResync(long readId, long offset, int length) => throw new InvalidOperationException("the benchmark's primary began a resync");

    public void CaptureWholeVmState(long epoch) => throw new InvalidOperationException("the benchmark's primary began a resync");

    public void PairProtected(long epoch)
    {
    }
}
