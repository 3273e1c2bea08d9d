using System.Buffers;
using System.Runtime.InteropServices;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Primary;
using Replicator.Core.Storage;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using Replicator.Runtime.Links;

namespace Replicator.Runtime.Primary;

/// <summary>The engine's loop, the local I/O workers, the link's receive loop, and the engine's actions.</summary>
public sealed partial class PrimaryNode
{
    private async Task EventLoopAsync()
    {
        PrimaryEngine engine = _engine!;
        await foreach (PrimaryEvent e in _events.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            switch (e.Kind)
            {
                case PrimaryEventKind.Submit:
                    _completions.Add(e.Id, e.Completion!);
                    if (engine.Submit(e.Id, e.Request, e.Payload) is { } refused)
                    {
                        Log.RequestRefused(_log, e.Request.Op.ToString(), e.Request.Offset, e.Request.Length, refused);
                    }

                    break;
                case PrimaryEventKind.LocalCompleted:
                    engine.OnLocalCompleted(e.Id, e.Succeeded);
                    break;
                case PrimaryEventKind.VmCaptured:
                    engine.OnVmCaptured(e.Snapshot!.Epoch, e.Snapshot);
                    break;
                // Frames from a link already retired belong to a stream that ended: they are dropped.
                case PrimaryEventKind.Acknowledged when e.Link == _link:
                    NoteAckTimings(e.Id, e.AckTimings);
                    engine.OnCheckpointAcknowledged(e.Id);
                    break;
                case PrimaryEventKind.CreditReturned when e.Link == _link:
                    engine.OnCreditReturned(e.Id);
                    break;
                case PrimaryEventKind.Rejected when e.Link == _link:
                    engine.OnEpochRejected(e.Id, e.Reason!);
                    break;
                case PrimaryEventKind.Fenced when e.Link == _link:
                    FenceOff(e.Reason!);
                    break;
                case PrimaryEventKind.LinkLost:
                    OnLinkLost(e.Link!, e.Reason!);

                    // Its receive loop has ended and the link is retired: nothing uses it any more.
                    _ = e.Link!.DisposeAsync().AsTask();
                    break;
                case PrimaryEventKind.HeartbeatDue:
                    OnHeartbeatDue();
                    break;
                case PrimaryEventKind.Reconnected:
                    OnReconnected(e);
                    break;
                case PrimaryEventKind.ResyncReadCompleted:
                    engine.OnResyncReadCompleted(e.Id, e.Succeeded, e.Payload);
                    if (MemoryMarshal.TryGetArray(e.Payload, out ArraySegment<byte> buffer))
                    {
                        ArrayPool<byte>.Shared.Return(buffer.Array!);
                    }

                    break;
                case PrimaryEventKind.IntervalElapsed:
                    engine.RequestCheckpoint(CheckpointTrigger.Interval);
                    break;
                case PrimaryEventKind.CheckpointRequested:
                    long epoch = engine.RequestCheckpoint(CheckpointTrigger.Explicit);
                    if (epoch == PrimaryEngine.NoCheckpoint)
                    {
                        e.CheckpointWaiter!.TrySetException(new InvalidOperationException($"no checkpoint: replication is degraded ({engine.DegradedReason})"));
                    }
                    else
                    {
                        _checkpointWaiters.Add((epoch, e.CheckpointWaiter!));
                    }

                    break;
            }
        }
    }

    private async Task LocalIoLoopAsync()
    {
        await foreach (PrimaryEvent io in _localIo.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            if (io.Kind == PrimaryEventKind.ResyncRead)
            {
                ReadForResync(io);
                continue;
            }

            bool ok = true;
            try
            {
                _image!.Apply(io.Request, io.Payload.Span);
            }
            catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException or ObjectDisposedException)
            {
                // Any failure of the local disk fails this request only; the drain must not hang on it.
                Log.LocalIoFailed(_log, io.Request.Op.ToString(), io.Request.Offset, io.Request.Length, e.Message);
                ok = false;
            }

            Post(new PrimaryEvent(PrimaryEventKind.LocalCompleted, io.Id, Succeeded: ok));
        }
    }

    /// <summary>On a local I/O worker: the resync's read of the primary's own disk, into a pooled buffer the event loop returns.</summary>
    private void ReadForResync(in PrimaryEvent io)
    {
        int length = io.Request.Length;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
        bool ok = true;
        try
        {
            _image!.Read(io.Request.Offset, buffer.AsSpan(0, length));
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException or ObjectDisposedException)
        {
            Log.ResyncReadFailed(_log, io.Request.Offset, length, e.Message);
            ok = false;
        }

        Post(new PrimaryEvent(PrimaryEventKind.ResyncReadCompleted, io.Id, io.Request, buffer.AsMemory(0, length), Succeeded: ok));
    }

    private async Task ReceiveLoopAsync(FrameConnection link)
    {
        string reason = "the secondary closed the link";
        try
        {
            await link.ReceiveAsync(frame => OnFrame(frame, link), _stopping.Token).ConfigureAwait(false);
        }
        catch (ProtocolViolationException e)
        {
            reason = e.Message;
            Log.ProtocolViolation(_log, e.Message);
            await link.CloseAsync(e.Message).ConfigureAwait(false);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            reason = e.Message;
        }

        if (!_stopping.IsCancellationRequested)
        {
            Post(new PrimaryEvent(PrimaryEventKind.LinkLost, Reason: reason, Link: link));
        }
    }

    private bool OnFrame(Frame frame, FrameConnection link)
    {
        switch (frame.Type)
        {
            case FrameType.Ack:
                AckMessage ack = ControlCodec.Decode<AckMessage>(frame, FrameType.Ack);
                Post(new PrimaryEvent(PrimaryEventKind.Acknowledged, ack.Epoch, AckTimings: ack.Timings, Link: link));
                return true;
            case FrameType.Credit:
                Post(new PrimaryEvent(PrimaryEventKind.CreditReturned, ControlCodec.Decode<CreditMessage>(frame, FrameType.Credit).Bytes, Link: link));
                return true;
            case FrameType.Reject:
                RejectMessage reject = ControlCodec.Decode<RejectMessage>(frame, FrameType.Reject);
                Post(new PrimaryEvent(PrimaryEventKind.Rejected, reject.Epoch, Reason: reject.Reason, Link: link));
                return true;
            case FrameType.Heartbeat:
                return true;
            case FrameType.Error:
                ErrorMessage error = ControlCodec.Decode<ErrorMessage>(frame, FrameType.Error);
                if (error.Fenced)
                {
                    Post(new PrimaryEvent(PrimaryEventKind.Fenced, Reason: $"the secondary at {link.RemoteEndPoint} will not follow this primary again: {error.Reason}", Link: link));
                }

                throw new ProtocolViolationException($"the secondary closed the link: {error.Reason}");
            default:
                throw new ProtocolViolationException($"frame {frame.Header.LinkSequence}: a secondary does not send {frame.Type}");
        }
    }

    /// <summary>The engine's actions: disk work to the I/O workers, frames to the link, the rest to the guest.</summary>
    private sealed class Actions(PrimaryNode node) : IPrimaryActions
    {
        public void IssueLocal(long requestId, BlockRequest request, ReadOnlyMemory<byte> payload) =>
            node._localIo.Writer.TryWrite(new PrimaryEvent(PrimaryEventKind.Submit, requestId, request, payload));

        public void SendMirror(in MirrorRecord record) => node._link?.SendMirror(record);

        public void CompleteGuest(long requestId, RequestStatus status)
        {
            if (node._completions.Remove(requestId, out TaskCompletionSource<RequestStatus>? completion))
            {
                node.GuestRequestCompleted?.Invoke(completion.Task.AsyncState, status);
                completion.TrySetResult(status);
            }
        }

        public void PauseGuest()
        {
            node._checkpointStarts.Enqueue((node._engine!.CurrentEpoch, node._time.GetTimestamp()));
            node._vm.Pause();
        }

        public void CaptureVmState(long epoch)
        {
            node.NoteDrained(epoch);
            node.Post(new PrimaryEvent(PrimaryEventKind.VmCaptured, Snapshot: node._vm.CaptureChanges(epoch)));
        }

        public void CaptureWholeVmState(long epoch) =>
            node.Post(new PrimaryEvent(PrimaryEventKind.VmCaptured, Snapshot: node._vm.CaptureAll(epoch)));

        public void ResumeGuest()
        {
            node._vm.ResumeExecution();
            if (node._checkpointStarts.Count > 0)
            {
                // The newest started checkpoint is the one resuming; keep its pause with it.
                var started = node._checkpointStarts.Last();
                node._resumedAt[started.Epoch] = node._time.GetTimestamp();
            }
        }

        public void SendCheckpoint(CheckpointRecord checkpoint)
        {
            node._link?.SendControl(FrameType.Checkpoint, CheckpointMessage.From(checkpoint));
            node.NoteHandedToLink(checkpoint.Epoch);
        }

        public void CheckpointCommitted(long epoch)
        {
            long now = node._time.GetTimestamp();
            while (node._checkpointStarts.TryPeek(out var started) && started.Epoch <= epoch)
            {
                node._checkpointStarts.Dequeue();
                node._resumedAt.Remove(started.Epoch, out long resumed);
                node.CheckpointCompleted?.Invoke(node.WithPhases(new CheckpointTiming(
                    started.Epoch,
                    node._time.GetElapsedTime(started.Start, resumed == 0 ? now : resumed),
                    node._time.GetElapsedTime(started.Start, now)), started.Start));
            }

            // During a resync an acknowledgement is a commit, not yet protection: waiters wait for both.
            if (node._engine!.Replication != PrimaryReplication.Protected)
            {
                return;
            }

            node._checkpointWaiters.RemoveAll(w =>
            {
                bool done = w.Epoch <= epoch;
                if (done)
                {
                    w.Waiter.TrySetResult(w.Epoch);
                }

                return done;
            });
        }

        public void ReleaseOutput(long outputId, bool protectedByReplica)
        {
            // The synthetic guest and the NBD export produce no network output of their own; a
            // hypervisor adapter would release the packets held under this id here.
        }

        public void SendResyncStart(ResyncPlan plan)
        {
            Log.ResyncStarted(node._log, plan.BaseEpoch, plan.Regions, plan.Bytes, plan.FirstEpoch);
            node._link?.SendControl(FrameType.ResyncStart, ResyncStartMessage.From(plan));
        }

        public void ReadForResync(long readId, long offset, int length) =>
            node._localIo.Writer.TryWrite(new PrimaryEvent(PrimaryEventKind.ResyncRead, readId, BlockRequest.Write(offset, length)));

        public void PairProtected(long epoch)
        {
            Log.ProtectedAgain(node._log, epoch);
            node.OnProtectedAgain();
            node.ReplicationChanged?.Invoke(PrimaryReplication.Protected, null);
        }

        public void SecondaryDegraded(string reason)
        {
            if (!node._options.Unreplicated)
            {
                Log.Degraded(node._log, reason);
            }

            foreach ((long _, TaskCompletionSource<long> waiter) in node._checkpointWaiters)
            {
                waiter.TrySetException(new InvalidOperationException($"replication is degraded: {reason}"));
            }

            node._checkpointWaiters.Clear();

            // Checkpoints of the ended stream will never be acknowledged: their timings would lie.
            node._checkpointStarts.Clear();
            node._resumedAt.Clear();
            node.RetireLink(reason);
            node.ReplicationChanged?.Invoke(PrimaryReplication.Degraded, reason);
        }
    }
}
