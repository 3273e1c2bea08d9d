using Replicator.Core.Secondary;
using Replicator.Protocol.Framing;

namespace Replicator.Hosts.Secondary;

/// <summary>Storage completions back to the engine: an epoch is acknowledged once its journal entry is durable, and applied after.</summary>
public sealed partial class SecondaryHost
{
    /// <summary>A storage operation the shell ran has ended: on to the engine, in the order journal → ack → apply.</summary>
    public void OnStorageCompleted(in SecondaryStorageCompletion completion)
    {
        SecondaryEngine engine = _engine!;
        switch (completion.Result)
        {
            case SecondaryStorageResult.Done when completion.Kind == SecondaryStorageKind.Persist:
                NotePersisted(completion.Epoch, completion.Stamps);
                bool wasResyncing = engine.IsResyncing;
                engine.OnEpochPersisted(completion.Epoch);
                if (wasResyncing && !engine.IsResyncing)
                {
                    Log.ResyncComplete(_log, completion.Epoch);
                }

                AnswerWaitingWelcome();
                break;
            case SecondaryStorageResult.Done when completion.Kind == SecondaryStorageKind.MarkApplied:
                NoteApplied(completion.Epoch, completion.Stamps);
                if (_syncTarget is not null && _store!.State.SyncTarget is null)
                {
                    // The epoch that completed the sync is applied: the image holds the primary's data.
                    _syncTarget = null;
                    Log.SyncCompleted(_log, completion.Epoch, _store.State.Generations.ToString());
                }

                engine.OnApplied(completion.Epoch);
                break;
            case SecondaryStorageResult.Done when completion.Kind == SecondaryStorageKind.MarkPromoted:
                OnPromotionRecorded(completion.Epoch);
                break;
            case SecondaryStorageResult.Done when completion.Kind is SecondaryStorageKind.RecordSyncTarget or SecondaryStorageKind.TakeGenerations:
                OnStateOperationDone();
                break;
            case SecondaryStorageResult.Done when completion.Kind == SecondaryStorageKind.RecordProposedPromotion:
                OnStateOperationDone();
                OnProposalRecorded();
                break;
            case SecondaryStorageResult.Done when completion.Verified is { } verified:
                // Only the primary of this stream asked; after a restart (journal replay) nobody waits for it.
                if (!_welcomed.IsNone)
                {
                    _actions.Send(_welcomed, FrameType.VerifyResult, verified);
                }

                break;
            case SecondaryStorageResult.Done or SecondaryStorageResult.Skipped:
                break;
            case SecondaryStorageResult.PersistFailed:
                engine.OnPersistFailed(completion.Epoch, completion.Reason!);
                AnswerWaitingWelcome();
                break;
            case SecondaryStorageResult.StorageFailed:
                Log.StorageFailed(_log, completion.Reason!);
                _actions.Halt(completion.Reason!);
                break;
        }
    }
}
