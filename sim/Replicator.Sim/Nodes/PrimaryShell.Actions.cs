using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Guest;
using Replicator.Core.Primary;
using Replicator.Core.Vm;
using Replicator.Hosts.Links;
using Replicator.Hosts.Primary;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using Replicator.Sim.Faults;
using Replicator.Sim.Network;
using Replicator.Sim.Storage;

namespace Replicator.Sim.Nodes;

/// <summary>
/// The host's actions in the simulated world: connections opened to the secondary, frames onto
/// them, disk work onto the simulated disk, the guest paused, captured and told. Each call only
/// queues work; the host hears back later, on its own turn, as the daemon's loop would tell it.
/// What the checkers need is observed here, on the way out.
/// </summary>
internal sealed partial class PrimaryShell
{
    /// <summary>The sender of an open link; null once it closed.</summary>
    private LinkSender? SenderOf(LinkId link) => _senders.TryGetValue(link, out LinkSender? sender) && sender.Connection.IsOpen ? sender : null;

    /// <summary>Connecting takes a turn; the secondary refuses while it is down (or busy with another primary).</summary>
    private void OpenConnection(int incarnation) => OnHost(incarnation, () =>
    {
        _world.Trace.Event("connect attempt");
        SimConnection connection = _world.Network.Connect();
        if (!_world.Secondary.Accept(connection))
        {
            _world.Network.Close(connection, "connection refused", this);
            Host.OnConnectFailed("connection refused");
            return;
        }

        var link = new LinkId(++_nextLink);
        _links[connection] = link;
        _senders[link] = new LinkSender(_world.Network, connection, toSecondary: true);
        Host.OnLinkConnected(link);
    });

    private void OnStarted(PrimaryStart start)
    {
        _world.Trace.Event("primary started", (long)start.Outcome);
        if (start.Outcome == PrimaryStartOutcome.Running)
        {
            bool misdirected = _misdirected;
            CheckAllowedToRun();
            if (!misdirected)
            {
                StartGuest();
            }

            return;
        }

        _world.Trace.Note(() => $"primary did not start ({start.Outcome}): {start.Reason}");
        OnStartFailed(start);
    }

    private void OnOutputReleased(long outputId, bool protectedByReplica)
    {
        long epoch = _outputEpochs[outputId];
        _outputEpochs.Remove(outputId);
        if (protectedByReplica)
        {
            HighestProtectedOutputEpoch = Math.Max(HighestProtectedOutputEpoch, epoch);
        }

        _world.Checker.OutputReleased(outputId, epoch, protectedByReplica, _world.Secondary.DurableCommittedEpoch, Engine?.IsDegraded ?? true);
        if (!protectedByReplica)
        {
            NoteAcknowledged("released a guest output");
        }
    }

    private void OnGuestCompleted(long requestId, RequestStatus status)
    {
        if (status == RequestStatus.Invalid)
        {
            _world.Checker.Fail($"the synthetic guest's request {requestId} was refused as invalid");
        }

        if (status == RequestStatus.Ok)
        {
            NoteAcknowledged("acknowledged a guest request");
        }
        else if (status == RequestStatus.IoError && (Host.FencedReason is not null || Host.HeldAnswers > 0))
        {
            // Failed because the node was fenced or superseded, not because its disk failed: the
            // write may be on the disk; the guest cannot know, and after a restart sees what is.
            _guestUnsureOfDisk = true;
        }

        if (_requests.Remove(requestId, out GuestRequest request))
        {
            Guest.OnCompleted(request, status);
        }
    }

    /// <summary>
    /// The dirty log's steps one after another, each taking the primary's disk's time: an image
    /// flush through the simulated disk, a log write or flush on the state directory. A crash or power
    /// cut between two steps leaves the rest undone (and unflushed writes torn).
    /// </summary>
    private void RunDirtyLogStep(int incarnation, DirtyLogOperation operation, int index)
    {
        if (index == operation.Steps.Count)
        {
            OnHost(incarnation, () => Host.OnDirtyLogWritten(operation.Id, null));
            return;
        }

        DirtyLogStep step = operation.Steps[index];
        if (step.Kind == DirtyLogStepKind.FlushImage)
        {
            Disk.FlushCache(ok => OnHost(incarnation, () =>
            {
                if (ok)
                {
                    RunDirtyLogStep(incarnation, operation, index + 1);
                }
                else
                {
                    Host.OnDirtyLogWritten(operation.Id, "a simulated flush error on the primary's image");
                }
            }));
            return;
        }

        DiskProfile disk = _world.Scenario.PrimaryDisk;
        long latency = step.Kind == DirtyLogStepKind.FlushLog ? disk.FlushUs : disk.WriteUs;
        _world.Clock.After(latency, () => OnHost(incarnation, () =>
        {
            _world.Trace.Event("dirty log", operation.Id, (long)step.Kind);
            operation.RunOnLog(step);
            RunDirtyLogStep(incarnation, operation, index + 1);
        }));
    }

    /// <summary>
    /// A verify of a pair that was protected throughout compares two images the invariants say are
    /// equal: any block found to differ is a violation (the replica drifted from the primary).
    /// </summary>
    private void OnVerifyCompleted(VerifyReport report)
    {
        _world.Trace.Event("verified", report.BytesCompared, report.BlocksDiverged);
        if (report.BlocksDiverged > 0)
        {
            _world.Checker.Fail($"verify: {report.BlocksDiverged} blocks differ between the primary and the secondary (first at {report.DivergedOffsets[0]})");
        }
    }

    private sealed class Actions(PrimaryShell shell) : IPrimaryHostActions
    {
        private readonly int _incarnation = shell._incarnation;

        private bool Current => !shell.Crashed && _incarnation == shell._incarnation;

        private void Later(long delay, Action action) => shell._world.Clock.After(delay, () => shell.OnHost(_incarnation, action));

        public void Connect(TimeSpan timeout)
        {
            if (Current)
            {
                shell._world.Clock.After(0, () => shell.OpenConnection(_incarnation));
            }
        }

        public void ConnectWitness(TimeSpan timeout)
        {
            if (Current)
            {
                (shell._world.Witness ?? throw new InvalidOperationException("the host asked for a witness the world has none of")).Connect(WitnessSide.Primary, shell, _incarnation, timeout);
            }
        }

        public void Send<T>(LinkId link, FrameType type, T message)
        {
            if (!Current)
            {
                return;
            }

            if (WitnessShell.IsWitnessLink(link))
            {
                shell._world.Witness?.FromNode(link, (Protocol.Witness.WitnessRequestMessage)(object)message!);
                return;
            }

            shell.CheckFirstSend(message!);
            if (message is CheckpointMessage checkpoint)
            {
                shell._world.Trace.Event("checkpoint", checkpoint.Epoch, checkpoint.LastSequence);
                shell._world.Checker.CheckpointSent(checkpoint.Epoch, checkpoint.FirstSequence, checkpoint.LastSequence, checkpoint.Digest);
            }

            shell.SenderOf(link)?.Control(type, message);
            if (type == FrameType.Checkpoint)
            {
                shell.TriggerCrash(PrimaryCrashPoint.AfterCheckpointSent);
            }
        }

        public void SendMirror(LinkId link, in MirrorRecord record)
        {
            if (Current)
            {
                if (shell._mustSyncWholeFirst)
                {
                    shell.CheckFirstSend(record);
                }

                shell._world.Trace.Event("mirror", record.Epoch, record.Sequence);
                shell.SenderOf(link)?.Mirror(record);
            }
        }

        public void Close(LinkId link, string? reason)
        {
            if (Current && WitnessShell.IsWitnessLink(link))
            {
                shell._world.Witness?.CloseFromNode(link);
                shell._world.Clock.After(0, () => shell.OnHost(_incarnation, () => shell.Host.OnLinkClosed(link, reason ?? "closed")));
                return;
            }

            if (!Current || shell.SenderOf(link) is not { } sender)
            {
                return;
            }

            // Why, then the close, after what was already sent (as the daemon's connection does).
            if (reason is not null)
            {
                sender.Control(FrameType.Error, new ErrorMessage { Reason = reason });
            }

            shell._world.Network.CloseAfterInFlight(sender.Connection, reason ?? "the primary closed the link");
        }

        public void ScheduleReconnect(TimeSpan delay)
        {
            if (Current)
            {
                Later((long)delay.TotalMicroseconds, shell.Host.OnReconnectDue);
            }
        }

        public void IssueLocal(long requestId, BlockRequest request, ReadOnlyMemory<byte> payload)
        {
            if (Current)
            {
                shell.Disk.Submit(request, payload, ok => shell.OnHost(_incarnation, () => shell.Host.OnLocalCompleted(requestId, request, ok ? null : "a simulated I/O error")));
            }
        }

        public void RunDirtyLog(DirtyLogOperation operation)
        {
            if (Current)
            {
                shell.RunDirtyLogStep(_incarnation, operation, 0);
            }
        }

        public void ReadForResync(long readId, long offset, int length)
        {
            if (Current)
            {
                shell.Disk.Read(offset, length, (ok, data) => shell.OnHost(_incarnation, () => shell.Host.OnResyncReadCompleted(readId, offset, data, ok ? null : "a simulated I/O error")));
            }
        }

        public void CompleteGuest(long requestId, RequestStatus status)
        {
            if (Current)
            {
                shell.OnGuestCompleted(requestId, status);
            }
        }

        public void PauseGuest()
        {
            if (Current)
            {
                shell.Guest.Pause();
                shell.TriggerCrash(PrimaryCrashPoint.DuringDrain);
            }
        }

        public void ResumeGuest()
        {
            if (Current)
            {
                shell.Guest.ResumeExecution();
            }
        }

        public void CaptureVmState(long epoch, bool whole)
        {
            if (Current)
            {
                Later(shell._world.Scenario.CaptureUs, () => shell.Host.OnVmCaptured(whole ? shell.Guest.CaptureAll(epoch) : shell.Guest.CaptureChanges(epoch)));
            }
        }

        // The link's sender serialised the checkpoint before this: its pages go back to the guest's
        // pool, as the daemon's do, so a page reused while still read would show in the checks.
        public void ReleaseSnapshot(VmSnapshot snapshot) => shell.Guest.Release(snapshot);

        public void ReleaseOutput(long outputId, bool protectedByReplica)
        {
            if (Current)
            {
                shell.OnOutputReleased(outputId, protectedByReplica);
            }
        }

        public void Started(PrimaryStart start)
        {
            if (Current)
            {
                shell.OnStarted(start);
            }
        }

        public void ReplicationChanged(PrimaryReplication replication, string? reason)
        {
            if (Current)
            {
                shell._world.Trace.Event(replication switch
                {
                    PrimaryReplication.Degraded => "degraded",
                    PrimaryReplication.Resyncing => "resyncing",
                    _ => "protected",
                }, shell.Engine?.CurrentEpoch ?? 0);
                shell._world.Trace.Note(() => $"primary {replication}{(reason is null ? string.Empty : ": " + reason)}");
            }
        }

        public void Fenced(string reason)
        {
            if (Current)
            {
                shell._world.Trace.Event("fenced");
                shell._world.Trace.Note(() => $"primary fenced: {reason}");
            }
        }

        public void CheckpointCompleted(in CheckpointTiming timing)
        {
            if (Current)
            {
                shell._world.Trace.Event("acknowledged", timing.Epoch);
                shell.TriggerCrash(PrimaryCrashPoint.AfterAcknowledgement);
            }
        }

        public void CheckpointWaiterCompleted(long waiterId, long epoch)
        {
            if (Current)
            {
                shell.OnCleanStopAcknowledged(waiterId, epoch);
            }
        }

        public void VerifyCompleted(long waiterId, VerifyReport report)
        {
            if (Current)
            {
                shell.OnVerifyCompleted(report);
            }
        }

        public void VerifyFailed(long waiterId, string reason)
        {
            if (Current)
            {
                shell._world.Trace.Note(() => $"verify failed: {reason}");
            }
        }

        public void CheckpointWaiterFailed(long waiterId, string reason)
        {
            if (Current)
            {
                shell.OnCleanStopFailed(waiterId, reason);
            }
        }

        public void SwitchoverEnded(long waiterId, SwitchoverResult result)
        {
            if (Current)
            {
                shell._world.Trace.Event("switchover ended", (long)result.Outcome, result.Epoch);
                shell._world.Trace.Note(() => $"switchover ended: {result.Outcome}: {result.Detail}");
                shell.Switchover = result;
            }
        }
    }
}
