using System.Threading.Channels;
using Replicator.Hosts.Storage;
using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Vm;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using Replicator.Runtime.Storage;

namespace Replicator.Runtime.Secondary;

/// <summary>The engine's event loop, the storage loop, and the engine's actions.</summary>
public sealed partial class SecondaryNode
{
    private async Task EventLoopAsync()
    {
        SecondaryEngine engine = _engine!;
        await foreach (SecondaryEvent e in _events.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            switch (e.Kind)
            {
                case SecondaryEventKind.Mirror:
                    long cost = e.Record.BufferCost;
                    if (engine.OnMirror(e.Record, e.Owner) == MirrorOutcome.Buffered)
                    {
                        _creditOwed += cost;
                        NoteBuffered(engine.BufferedBytes);
                    }

                    break;
                case SecondaryEventKind.Checkpoint:
                    NoteCheckpointReceived(e.Checkpoint!.Epoch, e.Stamps);
                    engine.OnCheckpoint(e.Checkpoint!);
                    break;
                case SecondaryEventKind.Persisted:
                    NotePersisted(e.Epoch, e.Stamps);
                    bool wasResyncing = engine.IsResyncing;
                    engine.OnEpochPersisted(e.Epoch);
                    if (wasResyncing && !engine.IsResyncing)
                    {
                        Log.ResyncComplete(_log, e.Epoch);
                    }

                    AnswerWaitingWelcome();
                    break;
                case SecondaryEventKind.PersistFailed:
                    engine.OnPersistFailed(e.Epoch, e.Reason!);
                    AnswerWaitingWelcome();
                    break;
                case SecondaryEventKind.Applied:
                    NoteApplied(e.Epoch, e.Stamps);
                    engine.OnApplied(e.Epoch);
                    break;
                case SecondaryEventKind.StorageFailed:
                    Log.StorageFailed(_log, e.Reason!);
                    _fatal.TrySetResult(e.Reason!);
                    return;
                case SecondaryEventKind.Promote:
                    if (engine.Promote() is { } refused)
                    {
                        Log.NotPromoting(_log, e.Reason!, refused);
                        e.Answer?.TrySetResult(refused);
                        break;
                    }

                    Log.Promoting(_log, e.Reason!, engine.LastCommittedEpoch);
                    e.Answer?.TrySetResult(null);
                    if (_link is { } link)
                    {
                        // I6: the old primary must know this node will never follow it again.
                        await link.CloseAsync("the secondary is being promoted", fenced: true).ConfigureAwait(false);
                    }

                    break;
                case SecondaryEventKind.Welcome:
                    // The welcome says what this node holds: with an epoch still being journalled that
                    // would change under the primary's feet, so it waits for the journal.
                    _welcomeWaiting = (e.Welcome!, e.Link!);
                    AnswerWaitingWelcome();
                    break;
                case SecondaryEventKind.ResyncStart:
                    OnResyncStart(e.ResyncStart!, e.Link!);
                    break;
                case SecondaryEventKind.LinkClosed:
                    Log.PrimaryLost(_log, e.Reason ?? "link closed");
                    Volatile.Write(ref _welcomed, null);
                    engine.OnPrimaryLost();
                    break;
            }
        }
    }

    private async Task StorageLoopAsync(ChannelReader<StorageOperation> operations)
    {
        SecondaryStore store = _store!;
        bool journalFailed = false;
        long applyStarted = 0; // when the epoch being applied got its first storage action
        await foreach (StorageOperation op in operations.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                switch (op.Kind)
                {
                    case StorageOperationKind.Persist:
                        // After one failed append nothing later may land in the journal: it would
                        // follow a gap. The engine has already refused those epochs.
                        if (journalFailed)
                        {
                            break;
                        }

                        try
                        {
                            long started = _time.GetTimestamp();
                            long written = store.Persist(op.Epoch!, _time);
                            var stamps = new EpochStamps(JournalStarted: started, JournalWritten: written, JournalSynced: _time.GetTimestamp());
                            Post(new SecondaryEvent(SecondaryEventKind.Persisted, Epoch: op.Epoch!.Epoch, Stamps: stamps));
                        }
                        catch (IOException e)
                        {
                            journalFailed = true;
                            Post(new SecondaryEvent(SecondaryEventKind.PersistFailed, Epoch: op.Epoch!.Epoch, Reason: e.Message));
                        }

                        break;
                    case StorageOperationKind.WriteImage:
                        applyStarted = applyStarted == 0 ? _time.GetTimestamp() : applyStarted;
                        store.WriteImage(op.Record);
                        break;
                    case StorageOperationKind.FlushImage:
                        applyStarted = applyStarted == 0 ? _time.GetTimestamp() : applyStarted;
                        store.FlushImage();
                        break;
                    case StorageOperationKind.ApplyVm:
                        applyStarted = applyStarted == 0 ? _time.GetTimestamp() : applyStarted;
                        store.ApplyVmSnapshot(op.Snapshot!);
                        break;
                    case StorageOperationKind.MarkApplied:
                        applyStarted = applyStarted == 0 ? _time.GetTimestamp() : applyStarted;
                        store.MarkApplied(op.Number, op.LastSequence);
                        Post(new SecondaryEvent(SecondaryEventKind.Applied, Epoch: op.Number, Stamps: new EpochStamps(ApplyStarted: applyStarted, ApplyEnded: _time.GetTimestamp())));
                        applyStarted = 0;
                        break;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or ObjectDisposedException or InvalidOperationException)
            {
                // The image or RAM image failed under a committed epoch: it is still safe in the
                // journal, but this node cannot go on applying. Stop loudly.
                Post(new SecondaryEvent(SecondaryEventKind.StorageFailed, Reason: $"applying to {store.Image.Name} failed: {e.Message}"));
                return;
            }
        }
    }

    /// <summary>The engine's actions: storage work goes to the storage loop, messages to the link.</summary>
    private sealed class Actions(SecondaryNode node) : ISecondaryActions
    {
        public void PersistEpoch(EpochLog epoch) => node._journal.Writer.TryWrite(new StorageOperation(StorageOperationKind.Persist, Epoch: epoch));

        public void AcknowledgeEpoch(long epoch) => node._welcomed?.SendControl(FrameType.Ack, new AckMessage { Epoch = epoch, Timings = node.TakeAckTimings(epoch) });

        public void WriteImage(in MirrorRecord record) => Store(new StorageOperation(StorageOperationKind.WriteImage, record));

        public void FlushImage() => Store(new StorageOperation(StorageOperationKind.FlushImage));

        public void ApplyVmSnapshot(VmSnapshot snapshot) => Store(new StorageOperation(StorageOperationKind.ApplyVm, Snapshot: snapshot));

        public void MarkApplied(long epoch, long lastSequence) => Store(new StorageOperation(StorageOperationKind.MarkApplied, Number: epoch, LastSequence: lastSequence));

        public void ReturnCredit(long bytes)
        {
            long owed = Math.Min(bytes, node._creditOwed);
            node._creditOwed -= owed;
            if (owed > 0)
            {
                node._welcomed?.SendControl(FrameType.Credit, new CreditMessage { Bytes = owed });
            }
        }

        public void RejectEpoch(long epoch, string reason)
        {
            Log.EpochRejected(node._log, epoch, reason);
            node._welcomed?.SendControl(FrameType.Reject, new RejectMessage { Epoch = epoch, Reason = reason });
        }

        public void Promoted(long epoch)
        {
            node._store!.MarkPromoted();
            Log.Promoted(node._log, epoch, node._store.State.Generation);
            node._promoted.TrySetResult(epoch);
        }

        private void Store(in StorageOperation op) => node._storage.Writer.TryWrite(op);
    }
}
