using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Primary;
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
                case PrimaryEventKind.Acknowledged:
                    engine.OnCheckpointAcknowledged(e.Id);
                    break;
                case PrimaryEventKind.CreditReturned:
                    engine.OnCreditReturned(e.Id);
                    break;
                case PrimaryEventKind.Rejected:
                    engine.OnEpochRejected(e.Id, e.Reason!);
                    break;
                case PrimaryEventKind.LinkLost:
                    engine.OnSecondaryLost(e.Reason!);
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

    private async Task ReceiveLoopAsync(FrameConnection link)
    {
        string reason = "the secondary closed the link";
        try
        {
            await link.ReceiveAsync(OnFrame, _stopping.Token).ConfigureAwait(false);
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
            Post(new PrimaryEvent(PrimaryEventKind.LinkLost, Reason: reason));
        }
    }

    private bool OnFrame(Frame frame)
    {
        switch (frame.Type)
        {
            case FrameType.Ack:
                Post(new PrimaryEvent(PrimaryEventKind.Acknowledged, ControlCodec.Decode<AckMessage>(frame, FrameType.Ack).Epoch));
                return true;
            case FrameType.Credit:
                Post(new PrimaryEvent(PrimaryEventKind.CreditReturned, ControlCodec.Decode<CreditMessage>(frame, FrameType.Credit).Bytes));
                return true;
            case FrameType.Reject:
                RejectMessage reject = ControlCodec.Decode<RejectMessage>(frame, FrameType.Reject);
                Post(new PrimaryEvent(PrimaryEventKind.Rejected, reject.Epoch, Reason: reject.Reason));
                return true;
            case FrameType.Heartbeat:
                return true;
            case FrameType.Error:
                throw new ProtocolViolationException($"the secondary closed the link: {ControlCodec.Decode<ErrorMessage>(frame, FrameType.Error).Reason}");
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

        public void CaptureVmState(long epoch) =>
            node.Post(new PrimaryEvent(PrimaryEventKind.VmCaptured, Snapshot: node._vm.CaptureChanges(epoch)));

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

        public void SendCheckpoint(CheckpointRecord checkpoint) =>
            node._link?.SendControl(FrameType.Checkpoint, CheckpointMessage.From(checkpoint));

        public void CheckpointCommitted(long epoch)
        {
            long now = node._time.GetTimestamp();
            while (node._checkpointStarts.TryPeek(out var started) && started.Epoch <= epoch)
            {
                node._checkpointStarts.Dequeue();
                node._resumedAt.Remove(started.Epoch, out long resumed);
                node.CheckpointCompleted?.Invoke(new CheckpointTiming(
                    started.Epoch,
                    node._time.GetElapsedTime(started.Start, resumed == 0 ? now : resumed),
                    node._time.GetElapsedTime(started.Start, now)));
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

        // The node does not reconnect yet, so the engine never starts a resync here.
        public void SendResyncStart(ResyncPlan plan) => throw new NotSupportedException("this node does not resync yet");

        public void ReadForResync(long readId, long offset, int length) => throw new NotSupportedException("this node does not resync yet");

        public void CaptureWholeVmState(long epoch) => throw new NotSupportedException("this node does not resync yet");

        public void PairProtected(long epoch) => throw new NotSupportedException("this node does not resync yet");

        public void SecondaryDegraded(string reason)
        {
            Log.Degraded(node._log, reason);
            foreach ((long _, TaskCompletionSource<long> waiter) in node._checkpointWaiters)
            {
                waiter.TrySetException(new InvalidOperationException($"replication is degraded: {reason}"));
            }

            node._checkpointWaiters.Clear();
        }
    }
}
