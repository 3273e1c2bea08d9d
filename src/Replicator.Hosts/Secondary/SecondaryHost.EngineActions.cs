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

        /// <summary>
        /// Written ahead on the journal's lane, in order with the commits: the incarnation goes by
        /// value, since the log may be reused for another epoch before the lane reaches the record.
        /// </summary>
        public void StageRecord(EpochLog epoch, in MirrorRecord record, ulong recordHash) =>
            host._actions.RunStorage(new SecondaryStorageOperation(SecondaryStorageKind.StageRecord, record, Number: epoch.Incarnation, RecordHash: recordHash));

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

        public void TakingOver(long epoch, CommittedOverlay overlay) => host.RecordPromotion(epoch, overlay);

        public void Promoted(long epoch) => Log.TakeoverDrained(host._log, epoch);

        private void Store(in SecondaryStorageOperation op) => host._actions.RunStorage(op);
    }

    /// <summary>A state-record write is done: epochs of a sync waiting for it may be journalled now, and a promotion recorded.</summary>
    private void OnStateOperationDone()
    {
        _stateOperationsPending--;
        while (_stateOperationsPending == 0 && _persistsWaiting.TryDequeue(out SecondaryStorageOperation persist))
        {
            _actions.RunStorage(persist);
        }

        if (_stateOperationsPending == 0 && _promotionWaiting is { } waiting)
        {
            _promotionWaiting = null;
            _actions.RunStorage(waiting);
        }
    }

    /// <summary>
    /// The promotion's checkpoint is settled. The new generation and role become durable before
    /// anyone is told: a restart keeps refusing the old primary (I6). They are recorded after any
    /// state-record write still pending (a sync's target, say), and beside the
    /// write-back, not behind it; the shell serves once that is done (<see cref="OnPromotionRecorded"/>).
    /// </summary>
    private void RecordPromotion(long epoch, CommittedOverlay overlay)
    {
        Log.TakingOver(_log, epoch, overlay.Count, overlay.Bytes);
        if (_store!.State.Role == NodeRole.Primary)
        {
            // Recorded before this node last stopped: the same promotion, resumed, with no new generation.
            PromotedEpoch = epoch;
            Log.PromotionResumed(_log, epoch, _store.State.Generations.ToString());
            _actions.Promoted(epoch);
            return;
        }

        var record = new SecondaryStorageOperation(SecondaryStorageKind.MarkPromoted, Number: epoch, Proposal: _promotionGeneration);
        if (_stateOperationsPending > 0)
        {
            _promotionWaiting = record;
            return;
        }

        _actions.RunStorage(record);
    }

    /// <summary>The promotion is durable: the node serves, through the takeover's overlay until the drain is over.</summary>
    private void OnPromotionRecorded(long epoch)
    {
        PromotedEpoch = epoch;
        Log.Promoted(_log, epoch, _store!.State.Generations.ToString());
        _actions.Promoted(epoch);
    }
}
