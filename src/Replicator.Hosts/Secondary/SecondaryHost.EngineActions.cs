using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Vm;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Secondary;

/// <summary>The engine's actions: storage work to the shell's queues, messages to the welcomed link.</summary>
public sealed partial class SecondaryHost
{
    private sealed class EngineActions(SecondaryHost host) : ISecondaryActions
    {
        public void PersistEpoch(EpochLog epoch)
        {
            var persist = new SecondaryStorageOperation(SecondaryStorageKind.Persist, Epoch: epoch);
            if (host._stateOperationsPending > 0)
            {
                // A sync's target is not yet durable in the state record: no epoch of the sync may
                // become committed before it, or a power cut could leave the epoch that completes the
                // copy in the journal with nothing saying which data it completes.
                host._persistsWaiting.Enqueue(persist);
            }
            else
            {
                host._actions.RunStorage(persist);
            }
        }

        public void AcknowledgeEpoch(long epoch)
        {
            if (!host._welcomed.IsNone)
            {
                host._actions.Send(host._welcomed, FrameType.Ack, new AckMessage { Epoch = epoch, Timings = host.TakeAckTimings(epoch) });
            }
        }

        public void WriteImage(in MirrorRecord record) => Store(new SecondaryStorageOperation(SecondaryStorageKind.WriteImage, record));

        public void FlushImage() => Store(new SecondaryStorageOperation(SecondaryStorageKind.FlushImage));

        public void ApplyVmSnapshot(VmSnapshot snapshot) => Store(new SecondaryStorageOperation(SecondaryStorageKind.ApplyVm, Snapshot: snapshot));

        public void MarkApplied(long epoch, long lastSequence) => Store(new SecondaryStorageOperation(SecondaryStorageKind.MarkApplied, Number: epoch, LastSequence: lastSequence));

        public void ReturnCredit(long bytes)
        {
            long owed = Math.Min(bytes, host._creditOwed);
            host._creditOwed -= owed;
            if (owed > 0 && !host._welcomed.IsNone)
            {
                host._actions.Send(host._welcomed, FrameType.Credit, new CreditMessage { Bytes = owed });
            }
        }

        public void RejectEpoch(long epoch, string reason)
        {
            Log.EpochRejected(host._log, epoch, reason);
            if (!host._welcomed.IsNone)
            {
                host._actions.Send(host._welcomed, FrameType.Reject, new RejectMessage { Epoch = epoch, Reason = reason });
            }
        }

        public void Promoted(long epoch)
        {
            if (host._stateOperationsPending > 0)
            {
                // A state-record write is still on the apply lane: the promotion is recorded after it.
                host._promotionWaiting = epoch;
                return;
            }

            host.RecordPromotion(epoch);
        }

        private void Store(in SecondaryStorageOperation op) => host._actions.RunStorage(op);
    }

    /// <summary>A state-record write of the apply lane is done; a promotion that waited for it is recorded now.</summary>
    private void OnStateOperationDone()
    {
        _stateOperationsPending--;
        while (_stateOperationsPending == 0 && _persistsWaiting.TryDequeue(out SecondaryStorageOperation persist))
        {
            _actions.RunStorage(persist);
        }

        if (_stateOperationsPending == 0 && _promotionWaiting.HasValue)
        {
            long epoch = _promotionWaiting.Value;
            _promotionWaiting = null;
            RecordPromotion(epoch);
        }
    }

    /// <summary>
    /// The new generation and role are durable before anyone is told: a restart keeps refusing the
    /// old primary (I6). A node that cannot record them must not serve: it would forget its
    /// promotion on restart and follow the old primary again.
    /// </summary>
    private void RecordPromotion(long epoch)
    {
        if (_store!.State.Role == NodeRole.Primary)
        {
            // Recorded before this node last stopped: the same promotion, resumed, with no new generation.
            PromotedEpoch = epoch;
            Log.PromotionResumed(_log, epoch, _store.State.Generations.ToString());
            _actions.Promoted(epoch);
            return;
        }

        try
        {
            _store.MarkPromoted(_time.GetUtcNow(), epoch, _promotionGeneration);
        }
        catch (IOException e)
        {
            string reason = $"promotion to checkpoint {epoch} could not be recorded in {_store!.StatePath}: {e.Message}";
            Log.StorageFailed(_log, reason);
            _actions.Halt(reason);
            return;
        }

        PromotedEpoch = epoch;
        Log.Promoted(_log, epoch, _store.State.Generations.ToString());
        _actions.Promoted(epoch);
    }
}
