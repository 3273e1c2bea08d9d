using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Primary;
using Replicator.Hosts.Links;
using Replicator.Protocol.Framing;

namespace Replicator.Hosts.Primary;

/// <summary>
/// What the primary's host asks of the world: the shell (daemon, simulator or test) implements it.
/// As with <see cref="IPrimaryActions"/>, every call only queues work: it never blocks and never
/// calls back into the host, whose answers come later as events on its loop.
/// </summary>
public interface IPrimaryHostActions
{
    /// <summary>Open a connection to the secondary; report <see cref="PrimaryHost.OnLinkConnected"/>, or <see cref="PrimaryHost.OnConnectFailed"/> after <paramref name="timeout"/> at the latest.</summary>
    void Connect(TimeSpan timeout);

    /// <summary>Open a connection to the witness; report <see cref="PrimaryHost.OnWitnessConnected"/>, or <see cref="PrimaryHost.OnWitnessConnectFailed"/> after <paramref name="timeout"/> at the latest. Asked only of a primary with a witness.</summary>
    void ConnectWitness(TimeSpan timeout);

    /// <summary>Send a control message on the link (copied at once). A link already closed drops it.</summary>
    void Send<T>(LinkId link, FrameType type, T message);

    /// <summary>
    /// Send one record on the link; its payload is lent for this call only and must be copied. The
    /// shell may hold records back and send them together, in order, but never past the next
    /// <see cref="Send{T}"/> on the link: nothing waits on a record alone, while every answer the
    /// host waits for follows a control message (the checkpoint's acknowledgement, a heartbeat's echo).
    /// </summary>
    void SendMirror(LinkId link, in MirrorRecord record);

    /// <summary>Close the link, after a last Error frame with <paramref name="reason"/> if one is given. Its receive loop then reports <see cref="PrimaryHost.OnLinkClosed"/>.</summary>
    void Close(LinkId link, string? reason);

    /// <summary>Call <see cref="PrimaryHost.OnReconnectDue"/> after <paramref name="delay"/>.</summary>
    void ScheduleReconnect(TimeSpan delay);

    /// <summary>Perform the request on the primary's own disk; report <see cref="PrimaryHost.OnLocalCompleted"/>.</summary>
    void IssueLocal(long requestId, BlockRequest request, ReadOnlyMemory<byte> payload);

    /// <summary>Read this range of the primary's own disk; report <see cref="PrimaryHost.OnResyncReadCompleted"/>.</summary>
    void ReadForResync(long readId, long offset, int length);

    /// <summary>
    /// Run the dirty-log operation's steps in order, off the host's loop (an image flush on the
    /// primary's image, the others through <see cref="DirtyLogOperation.RunOnLog"/>); report
    /// <see cref="PrimaryHost.OnDirtyLogWritten"/>, with the failure if a step threw.
    /// </summary>
    void RunDirtyLog(DirtyLogOperation operation);

    /// <summary>Tell the guest its request ended.</summary>
    void CompleteGuest(long requestId, RequestStatus status);

    void PauseGuest();

    void ResumeGuest();

    /// <summary>Capture the VM state (only what changed since the last checkpoint, or all of it); report <see cref="PrimaryHost.OnVmCaptured"/>.</summary>
    void CaptureVmState(long epoch, bool whole);

    /// <summary>
    /// Nothing reads <paramref name="snapshot"/> any more: its checkpoint went through
    /// <see cref="Send{T}"/> or was dropped. The shell may give its pages back to the VM for the
    /// next capture (<see cref="Core.Vm.IVirtualMachine.Release"/>) — only if its
    /// <see cref="Send{T}"/> serialises a message before returning, as the daemon's and the
    /// simulator's do. Doing nothing is always safe.
    /// </summary>
    void ReleaseSnapshot(Core.Vm.VmSnapshot snapshot)
    {
    }

    /// <summary>The guest's output may now reach the outside world (I5).</summary>
    void ReleaseOutput(long outputId, bool protectedByReplica);

    /// <summary>The start ended: running, or why not.</summary>
    void Started(PrimaryStart start);

    /// <summary>Replication changed: degraded (with the reason), resyncing over a new link, protected again.</summary>
    void ReplicationChanged(PrimaryReplication replication, string? reason);

    /// <summary>The secondary will never follow this primary again: it stays degraded and stops reconnecting (I6). Once.</summary>
    void Fenced(string reason);

    /// <summary>A checkpoint was acknowledged, with its pause and commit latency.</summary>
    void CheckpointCompleted(in CheckpointTiming timing);

    /// <summary>The checkpoint asked for under <paramref name="waiterId"/> is acknowledged (and the pair protected) at <paramref name="epoch"/>.</summary>
    void CheckpointWaiterCompleted(long waiterId, long epoch);

    /// <summary>The verify asked for under <paramref name="waiterId"/> compared both images (and repaired them, if asked).</summary>
    void VerifyCompleted(long waiterId, VerifyReport report);

    /// <summary>The verify asked for under <paramref name="waiterId"/> ended without a verdict, for <paramref name="reason"/>.</summary>
    void VerifyFailed(long waiterId, string reason);

    /// <summary>The checkpoint asked for under <paramref name="waiterId"/> will not be acknowledged.</summary>
    void CheckpointWaiterFailed(long waiterId, string reason);

    /// <summary>The switchover asked for under <paramref name="waiterId"/> ended (<see cref="PrimaryHost.SwitchOver"/>).</summary>
    void SwitchoverEnded(long waiterId, SwitchoverResult result);
}
