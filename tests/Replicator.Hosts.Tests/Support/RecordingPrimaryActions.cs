using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Primary;
using Replicator.Hosts.Links;
using Replicator.Hosts.Primary;
using Replicator.Protocol.Framing;

namespace Replicator.Hosts.Tests.Support;

/// <summary>The host's actions, recorded in order: tests assert what the host asked for.</summary>
internal sealed class RecordingPrimaryActions : IPrimaryHostActions
{
    public List<object> Calls { get; } = new();

    public IEnumerable<T> Of<T>() => Calls.OfType<T>();

    /// <summary>Forgets what was recorded, so a test asserts only what follows.</summary>
    public void Clear() => Calls.Clear();

    public void Connect(TimeSpan timeout) => Calls.Add(new Connected(timeout));

    public void ConnectWitness(TimeSpan timeout) => Calls.Add(new WitnessConnectAsked(timeout));

    public void Send<T>(LinkId link, FrameType type, T message) => Calls.Add(new Sent(link, type, message!));

    public void SendMirror(LinkId link, in MirrorRecord record) => Calls.Add(new Mirrored(link, record.Epoch, record.Sequence, record.Request));

    public void Close(LinkId link, string? reason) => Calls.Add(new Closed(link, reason));

    public void ScheduleReconnect(TimeSpan delay) => Calls.Add(new ReconnectScheduled(delay));

    public void IssueLocal(long requestId, BlockRequest request, ReadOnlyMemory<byte> payload) => Calls.Add(new Issued(requestId, request));

    public void RunDirtyLog(DirtyLogOperation operation) => Calls.Add(operation);

    public void ReadForResync(long readId, long offset, int length) => Calls.Add(new ResyncRead(readId, offset, length));

    public void CompleteGuest(long requestId, RequestStatus status) => Calls.Add(new GuestCompleted(requestId, status));

    public void PauseGuest() => Calls.Add(new Paused());

    public void ResumeGuest() => Calls.Add(new Resumed());

    public void CaptureVmState(long epoch, bool whole) => Calls.Add(new CaptureAsked(epoch, whole));

    public void ReleaseSnapshot(Core.Vm.VmSnapshot snapshot) => Calls.Add(new SnapshotReleased(snapshot));

    public void ReleaseOutput(long outputId, bool protectedByReplica) => Calls.Add(new OutputReleased(outputId, protectedByReplica));

    public void Started(PrimaryStart start) => Calls.Add(start);

    public void ReplicationChanged(PrimaryReplication replication, string? reason) => Calls.Add(new Replication(replication, reason));

    public void Fenced(string reason) => Calls.Add(new FencedOff(reason));

    public void CheckpointCompleted(in CheckpointTiming timing) => Calls.Add(timing);

    public void CheckpointWaiterCompleted(long waiterId, long epoch) => Calls.Add(new WaiterCompleted(waiterId, epoch));

    public void CheckpointWaiterFailed(long waiterId, string reason) => Calls.Add(new WaiterFailed(waiterId, reason));

    public void SwitchoverEnded(long waiterId, SwitchoverResult result) => Calls.Add(new SwitchedOver(waiterId, result));

    public void VerifyCompleted(long waiterId, VerifyReport report) => Calls.Add(new Verified(waiterId, report));

    public void VerifyFailed(long waiterId, string reason) => Calls.Add(new VerifyFailure(waiterId, reason));

    internal sealed record Verified(long WaiterId, VerifyReport Report);

    internal sealed record VerifyFailure(long WaiterId, string Reason);

    internal sealed record Connected(TimeSpan Timeout);

    internal sealed record WitnessConnectAsked(TimeSpan Timeout);

    internal sealed record Sent(LinkId Link, FrameType Type, object Message);

    internal sealed record Mirrored(LinkId Link, long Epoch, long Sequence, BlockRequest Request);

    internal sealed record Closed(LinkId Link, string? Reason);

    internal sealed record ReconnectScheduled(TimeSpan Delay);

    internal sealed record Issued(long RequestId, BlockRequest Request);

    internal sealed record ResyncRead(long ReadId, long Offset, int Length);

    internal sealed record GuestCompleted(long RequestId, RequestStatus Status);

    internal sealed record Paused;

    internal sealed record Resumed;

    internal sealed record CaptureAsked(long Epoch, bool Whole);

    internal sealed record SnapshotReleased(Core.Vm.VmSnapshot Snapshot);

    internal sealed record OutputReleased(long OutputId, bool ProtectedByReplica);

    internal sealed record Replication(PrimaryReplication State, string? Reason);

    internal sealed record FencedOff(string Reason);

    internal sealed record WaiterCompleted(long WaiterId, long Epoch);

    internal sealed record WaiterFailed(long WaiterId, string Reason);

    internal sealed record SwitchedOver(long WaiterId, SwitchoverResult Result);
}
