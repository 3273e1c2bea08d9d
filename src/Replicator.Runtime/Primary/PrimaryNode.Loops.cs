using System.Buffers;
using System.Runtime.InteropServices;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Primary;
using Replicator.Core.Vm;
using Replicator.Core.Storage;
using Replicator.Hosts.Links;
using Replicator.Hosts.Primary;
using Replicator.Protocol.Framing;

namespace Replicator.Runtime.Primary;

/// <summary>The host's loop, the local I/O workers, and the host's actions.</summary>
public sealed partial class PrimaryNode
{
    // Event loop only: the guest's completions and the checkpoint waiters, by the ids the host knows them by.
    private readonly Dictionary<long, IGuestRequestCompletion> _completions = new();
    private readonly Dictionary<long, TaskCompletionSource<long>> _waiters = new();
    private readonly Dictionary<long, TaskCompletionSource<VerifyReport>> _verifyWaiters = new();
    private readonly Dictionary<long, TaskCompletionSource<SwitchoverResult>> _switchoverWaiters = new();
    private long _nextWaiterId;

    private async Task EventLoopAsync(PrimaryHost host)
    {
        await foreach (PrimaryEvent e in _events.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            switch (e.Kind)
            {
                case PrimaryEventKind.Start:
                    try
                    {
                        host.Start();
                    }
                    catch (Exception failure) when (failure is InvalidDataException or IOException or UnauthorizedAccessException)
                    {
                        _started.TrySetException(failure);
                    }

                    break;
                case PrimaryEventKind.Stop:
                    host.Stop();
                    break;
                case PrimaryEventKind.Submit:
                    _completions.Add(e.Id, e.Completion!);
                    host.Submit(e.Id, e.Request, e.Payload);
                    break;
                case PrimaryEventKind.LocalCompleted:
                    host.OnLocalCompleted(e.Id, e.Request, e.Reason);
                    break;
                case PrimaryEventKind.ResyncReadCompleted:
                    host.OnResyncReadCompleted(e.Id, e.Request.Offset, e.Payload, e.Reason);
                    if (MemoryMarshal.TryGetArray(e.Payload, out ArraySegment<byte> buffer))
                    {
                        ArrayPool<byte>.Shared.Return(buffer.Array!);
                    }

                    break;
                case PrimaryEventKind.TakeoverDrained:
                    host.OnTakeoverDrained();
                    break;
                case PrimaryEventKind.GuestPaused:
                    host.OnGuestPaused();
                    break;
                case PrimaryEventKind.VmCaptured:
                    host.OnVmCaptured(e.Snapshot!);
                    break;
                case PrimaryEventKind.LinkConnected:
                    host.OnLinkConnected(e.Link);
                    break;
                case PrimaryEventKind.ConnectFailed:
                    host.OnConnectFailed(e.Reason!);
                    break;
                case PrimaryEventKind.WitnessConnected:
                    host.OnWitnessConnected(e.Link);
                    break;
                case PrimaryEventKind.WitnessConnectFailed:
                    host.OnWitnessConnectFailed(e.Reason!);
                    break;
                case PrimaryEventKind.Frame:
                    host.OnFrame(e.Link, e.Input);
                    break;
                case PrimaryEventKind.LinkClosed:
                    host.OnLinkClosed(e.Link, e.Reason!);

                    // Its receive loop has ended and the host has let it go: nothing uses it any more.
                    ForgetLink(e.Link);
                    break;
                case PrimaryEventKind.HeartbeatDue:
                    host.OnHeartbeatTick();
                    break;
                case PrimaryEventKind.IntervalElapsed:
                    host.OnEpochTick();
                    break;
                case PrimaryEventKind.ReconnectDue:
                    host.OnReconnectDue();
                    break;
                case PrimaryEventKind.CheckpointRequested:
                    _waiters.Add(++_nextWaiterId, e.Waiter!);
                    host.RequestCheckpoint(_nextWaiterId);
                    break;
                case PrimaryEventKind.DirtyLogWritten:
                    host.OnDirtyLogWritten(e.Id, e.Reason);
                    break;
                case PrimaryEventKind.SyncRateChanged:
                    host.SetSyncRate(e.Id);
                    break;
                case PrimaryEventKind.VerifyRequested:
                    _verifyWaiters.Add(++_nextWaiterId, e.VerifyWaiter!);
                    host.Verify(_nextWaiterId, e.Id != 0);
                    break;
                case PrimaryEventKind.StopCleanly:
                    _waiters.Add(++_nextWaiterId, e.Waiter!);
                    host.StopCleanly(_nextWaiterId);
                    break;
                case PrimaryEventKind.SwitchoverRequested:
                    _switchoverWaiters.Add(++_nextWaiterId, e.SwitchoverWaiter!);
                    host.SwitchOver(_nextWaiterId);
                    break;
            }
        }

        // Stopped: whoever still waits for a checkpoint hears it will not come.
        foreach (TaskCompletionSource<long> waiter in _waiters.Values)
        {
            waiter.TrySetException(new InvalidOperationException("no checkpoint: the primary stopped"));
        }

        _waiters.Clear();
        foreach (TaskCompletionSource<VerifyReport> waiter in _verifyWaiters.Values)
        {
            waiter.TrySetException(new InvalidOperationException("no verify: the primary stopped"));
        }

        _verifyWaiters.Clear();
        foreach (TaskCompletionSource<SwitchoverResult> waiter in _switchoverWaiters.Values)
        {
            // Stopped mid-switchover: a handover sent may have been taken, so only a stop before it leaves this node primary.
            waiter.TrySetResult(host.HandedOver
                ? new SwitchoverResult(SwitchoverOutcome.Unconfirmed, 0, "the primary stopped after the handover, before the secondary answered")
                : new SwitchoverResult(SwitchoverOutcome.NotHandedOver, 0, "the primary stopped before the handover"));
        }

        _switchoverWaiters.Clear();
    }

    private async Task LocalIoLoopAsync(int lane)
    {
        LocalIoLanes lanes = _localIo!;
        await foreach (PrimaryEvent io in lanes.Reader(lane).ReadAllAsync().ConfigureAwait(false))
        {
            if (io.Kind == PrimaryEventKind.ResyncRead)
            {
                ReadForResync(io);
                lanes.Done(lane);
                continue;
            }

            string? failure = null;
            try
            {
                _image!.Apply(io.Request, io.Payload.Span);
            }
            catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException or ObjectDisposedException)
            {
                failure = e.Message;
            }

            // Counted done before the completion is posted: the loop may issue the next request on it.
            lanes.Done(lane);
            Post(new PrimaryEvent(PrimaryEventKind.LocalCompleted, io.Id, io.Request, Reason: failure));
        }
    }

    /// <summary>The dirty-log worker: each operation's steps in order, the image flush on the image itself.</summary>
    private async Task DirtyLogLoopAsync()
    {
        await foreach (DirtyLogOperation operation in _dirtyLog.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            string? failure = null;
            try
            {
                foreach (DirtyLogStep step in operation.Steps)
                {
                    if (step.Kind == DirtyLogStepKind.FlushImage)
                    {
                        _image!.Flush();
                    }
                    else
                    {
                        operation.RunOnLog(step);
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
            {
                failure = e.Message;
            }

            Post(new PrimaryEvent(PrimaryEventKind.DirtyLogWritten, operation.Id, Reason: failure));
        }
    }

    /// <summary>On a local I/O worker: the resync's read of the primary's own disk, into a pooled buffer the event loop returns.</summary>
    private void ReadForResync(in PrimaryEvent io)
    {
        int length = io.Request.Length;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
        string? failure = null;
        try
        {
            Read(io.Request.Offset, buffer.AsSpan(0, length));
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException or ObjectDisposedException)
        {
            failure = e.Message;
        }

        Post(new PrimaryEvent(PrimaryEventKind.ResyncReadCompleted, io.Id, io.Request, buffer.AsMemory(0, length), Reason: failure));
    }

    /// <summary>The host's actions: disk work to the I/O workers, frames to the links, timers, the VM, and the node's callbacks.</summary>
    private sealed class Actions(PrimaryNode node) : IPrimaryHostActions
    {
        public void Connect(TimeSpan timeout) => node.Connect(timeout);

        public void ConnectWitness(TimeSpan timeout) => node.ConnectWitness(timeout);

        public void Send<T>(LinkId link, FrameType type, T message) => node.LinkOf(link)?.SendControl(type, message);

        public void SendMirror(LinkId link, in MirrorRecord record) => node.LinkOf(link)?.SendMirror(record);

        public void Close(LinkId link, string? reason) => node.CloseLink(link, reason);

        public void ScheduleReconnect(TimeSpan delay) => node.ScheduleReconnect(delay);

        public void IssueLocal(long requestId, BlockRequest request, ReadOnlyMemory<byte> payload) =>
            node._localIo!.Post(new PrimaryEvent(PrimaryEventKind.Submit, requestId, request, payload));

        public void RunDirtyLog(DirtyLogOperation operation) => node._dirtyLog.Writer.TryWrite(operation);

        public void ReadForResync(long readId, long offset, int length) =>
            node._localIo!.Post(new PrimaryEvent(PrimaryEventKind.ResyncRead, readId, BlockRequest.Write(offset, length)));

        public void CompleteGuest(long requestId, RequestStatus status)
        {
            if (node._completions.Remove(requestId, out IGuestRequestCompletion? completion))
            {
                completion.Complete(status);
            }
        }

        public void PauseGuest()
        {
            if (!node._options.GuestPausesLater)
            {
                node._vm.Pause();
                return;
            }

            // Off the loop: the hypervisor's stop waits for guest requests only the loop can complete.
            node.Track(Task.Run(() =>
            {
                try
                {
                    node._vm.Pause();
                }
                catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException)
                {
                    // Reported, and the checkpoint goes on: its capture meets the same failure on
                    // the loop, as a VM paused on the loop would have failed there.
                    node.VmPauseFailed?.Invoke(e.Message);
                }

                node.Post(new PrimaryEvent(PrimaryEventKind.GuestPaused));
            }));
        }

        public void ResumeGuest() => node._vm.ResumeExecution();

        // Send serialised the checkpoint into the link's pipe before this: the pages are free.
        public void ReleaseSnapshot(VmSnapshot snapshot) => node._vm.Release(snapshot);

        public void CaptureVmState(long epoch, bool whole) =>
            node.Post(new PrimaryEvent(PrimaryEventKind.VmCaptured, Snapshot: whole ? node._vm.CaptureAll(epoch) : node._vm.CaptureChanges(epoch)));

        public void ReleaseOutput(long outputId, bool protectedByReplica)
        {
            // The synthetic guest and the NBD export produce no network output of their own; a
            // hypervisor adapter would release the packets held under this id here.
        }

        public void Started(PrimaryStart start) => node._started.TrySetResult(start);

        public void ReplicationChanged(PrimaryReplication replication, string? reason) => node.ReplicationChanged?.Invoke(replication, reason);

        public void Fenced(string reason) => node.FencedOff?.Invoke(reason);

        public void CheckpointCompleted(in CheckpointTiming timing) => node.CheckpointCompleted?.Invoke(timing);

        public void CheckpointWaiterCompleted(long waiterId, long epoch)
        {
            if (node._waiters.Remove(waiterId, out TaskCompletionSource<long>? waiter))
            {
                waiter.TrySetResult(epoch);
            }
        }

        public void VerifyCompleted(long waiterId, VerifyReport report)
        {
            if (node._verifyWaiters.Remove(waiterId, out TaskCompletionSource<VerifyReport>? waiter))
            {
                waiter.TrySetResult(report);
            }
        }

        public void VerifyFailed(long waiterId, string reason)
        {
            if (node._verifyWaiters.Remove(waiterId, out TaskCompletionSource<VerifyReport>? waiter))
            {
                waiter.TrySetException(new InvalidOperationException(reason));
            }
        }

        public void CheckpointWaiterFailed(long waiterId, string reason)
        {
            if (node._waiters.Remove(waiterId, out TaskCompletionSource<long>? waiter))
            {
                waiter.TrySetException(new InvalidOperationException(reason));
            }
        }

        public void SwitchoverEnded(long waiterId, SwitchoverResult result)
        {
            if (node._switchoverWaiters.Remove(waiterId, out TaskCompletionSource<SwitchoverResult>? waiter))
            {
                waiter.TrySetResult(result);
            }
        }
    }
}
