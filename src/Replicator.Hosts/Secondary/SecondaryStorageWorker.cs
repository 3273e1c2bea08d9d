using Replicator.Hosts.Storage;

namespace Replicator.Hosts.Secondary;

/// <summary>
/// Runs the secondary's storage operations on its store: what the daemon's storage threads and the
/// simulator's disk model both call, one operation at a time per queue. The journal queue and the
/// apply queue may run at once (the store's journal is safe for that); nothing here touches the
/// engine, whose loop gets each completion from the shell.
/// </summary>
public sealed class SecondaryStorageWorker(SecondaryStore store, TimeProvider time)
{
    // Journal queue only: after one failed append nothing later may land in the journal — it would
    // follow a gap. The engine has already refused those epochs.
    private bool _journalFailed;

    // Apply queue only: after a failure nothing more is applied — above all no state record saying
    // that the epoch whose write failed is applied, which would release its journal entry with it.
    private bool _applyFailed;

    // Apply queue only: when the epoch being applied got its first storage action.
    private long _applyStarted;

    public SecondaryStorageCompletion Run(in SecondaryStorageOperation op) => op.Kind switch
    {
        SecondaryStorageKind.Persist => Persist(op),
        SecondaryStorageKind.StageRecord => Stage(op),
        SecondaryStorageKind.MarkPromoted or SecondaryStorageKind.RecordProposedPromotion => RecordFailover(op),
        _ => Apply(op),
    };

    /// <summary>A failover's record — the vote asked for, or the promotion — on the journal lane, beside the write-back (the store orders the state writes of the two lanes).</summary>
    private SecondaryStorageCompletion RecordFailover(in SecondaryStorageOperation op)
    {
        try
        {
            if (op.Kind == SecondaryStorageKind.MarkPromoted)
            {
                store.MarkPromoted(time.GetUtcNow(), op.Number, op.Proposal);
            }
            else
            {
                store.RecordProposedPromotion(op.Proposal);
            }

            return new SecondaryStorageCompletion(op.Kind, op.Number, SecondaryStorageResult.Done);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A node that cannot record its promotion must not serve (it would forget it on restart and
            // follow the old primary again), nor ask a vote it could forget it asked.
            string what = op.Kind == SecondaryStorageKind.MarkPromoted ? $"promotion to checkpoint {op.Number}" : "the vote asked of the witness";
            return new SecondaryStorageCompletion(op.Kind, op.Number, SecondaryStorageResult.StorageFailed, $"{what} could not be recorded in {store.StatePath}: {e.Message}");
        }
    }

    /// <summary>
    /// A record written ahead of its commit. A failure here commits nothing and loses nothing: the
    /// journal stops writing that epoch ahead, and its commit writes it whole (and reports the
    /// failure, if the journal's disk fails it again).
    /// </summary>
    private SecondaryStorageCompletion Stage(in SecondaryStorageOperation op)
    {
        if (_journalFailed)
        {
            return new SecondaryStorageCompletion(op.Kind, op.EpochNumber, SecondaryStorageResult.Skipped);
        }

        bool staged = store.Journal.Stage(op.Number, op.Record, op.RecordHash);
        return new SecondaryStorageCompletion(op.Kind, op.EpochNumber, staged ? SecondaryStorageResult.Done : SecondaryStorageResult.Skipped);
    }

    private SecondaryStorageCompletion Persist(in SecondaryStorageOperation op)
    {
        long epoch = op.Epoch!.Epoch;
        if (_journalFailed)
        {
            return new SecondaryStorageCompletion(op.Kind, epoch, SecondaryStorageResult.Skipped);
        }

        try
        {
            long started = time.GetTimestamp();
            long written = store.Persist(op.Epoch, time);
            var stamps = new EpochStamps(JournalStarted: started, JournalWritten: written, JournalSynced: time.GetTimestamp());
            return new SecondaryStorageCompletion(op.Kind, epoch, SecondaryStorageResult.Done, Stamps: stamps);
        }
        catch (IOException e)
        {
            _journalFailed = true;
            return new SecondaryStorageCompletion(op.Kind, epoch, SecondaryStorageResult.PersistFailed, e.Message);
        }
    }

    private SecondaryStorageCompletion Apply(in SecondaryStorageOperation op)
    {
        if (_applyFailed)
        {
            return new SecondaryStorageCompletion(op.Kind, op.EpochNumber, SecondaryStorageResult.Skipped);
        }

        _applyStarted = _applyStarted == 0 ? time.GetTimestamp() : _applyStarted;
        try
        {
            switch (op.Kind)
            {
                case SecondaryStorageKind.WriteImage when op.Record.Request.Op == Core.Blocks.BlockOp.Verify:
                    return new SecondaryStorageCompletion(op.Kind, op.EpochNumber, SecondaryStorageResult.Done, Verified: store.Verify(op.Record));
                case SecondaryStorageKind.WriteImage:
                    store.WriteImage(op.Record);
                    break;
                case SecondaryStorageKind.FlushImage:
                    store.FlushImage();
                    break;
                case SecondaryStorageKind.ApplyVm:
                    store.ApplyVmSnapshot(op.Snapshot!);
                    break;
                case SecondaryStorageKind.RecordSyncTarget:
                    store.RecordSyncTarget(op.Generations!, op.Number);
                    break;
                case SecondaryStorageKind.TakeGenerations:
                    store.TakeGenerations(op.Generations!);
                    break;
                case SecondaryStorageKind.MarkApplied:
                    store.MarkApplied(op.Number, op.LastSequence);
                    var stamps = new EpochStamps(ApplyStarted: _applyStarted, ApplyEnded: time.GetTimestamp());
                    _applyStarted = 0;
                    return new SecondaryStorageCompletion(op.Kind, op.Number, SecondaryStorageResult.Done, Stamps: stamps);
            }

            return new SecondaryStorageCompletion(op.Kind, op.EpochNumber, SecondaryStorageResult.Done);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or ObjectDisposedException or InvalidOperationException)
        {
            // The image or RAM image failed under a committed epoch: it is still safe in the
            // journal, but this node cannot go on applying.
            _applyFailed = true;
            return new SecondaryStorageCompletion(op.Kind, op.EpochNumber, SecondaryStorageResult.StorageFailed, $"applying epoch {op.EpochNumber} to {store.Image.Name} failed: {e.Message}");
        }
    }
}
