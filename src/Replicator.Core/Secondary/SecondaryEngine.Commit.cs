using Replicator.Core.Blocks;
using Replicator.Core.Epochs;

namespace Replicator.Core.Secondary;

/// <summary>
/// The committer: a sealed epoch is journalled (the commit point), acknowledged, and its credit
/// returned; committed epochs are then written back to the image in batches honouring their
/// barriers, with their VM snapshots, and only then released from RAM.
/// </summary>
public sealed partial class SecondaryEngine
{
    /// <summary>
    /// A write-back batch takes the committed epochs queued when it starts, up to this many bytes
    /// (at least one epoch): under load one image flush, one RAM flush and one state record cover
    /// many epochs; idle, each epoch is its own batch.
    /// </summary>
    public const long MaxWritebackBatchBytes = 64L << 20;

    private readonly Queue<EpochLog> _persisting = new();
    private readonly Queue<EpochLog> _committed = new();
    private readonly WritebackSegment _segment = new();
    private readonly WritebackRamPages _ramPages = new();

    // The last epoch of the batch being written back; 0 while none is.
    private long _applyingThrough;

    // Bytes of committed epochs not yet written back, and how much of their credit is held back
    // because that backlog is above its bound (see SettleCredit).
    private long _committedBytes;
    private long _withheldCredit;

    // RAM pages of committed checkpoints not yet written back, and the newest epoch whose
    // acknowledgement waits because they are beyond the write-back bound (0: none waits).
    private long _committedPageBytes;
    private long _withheldAck;

    /// <summary>
    /// What the primary may not send now on this node's account: uncommitted records, and committed
    /// ones whose credit the write-back bound holds back. Never above <see cref="BufferCapacityBytes"/>.
    /// </summary>
    public long CreditHeldBytes => BufferedBytes - _committedBytes + _withheldCredit;

    /// <summary>Bytes of committed epochs waiting in RAM to be written back to the image.</summary>
    public long WritebackBacklogBytes => _committedBytes;

    /// <summary>RAM pages of committed checkpoints waiting in RAM to be written back to the RAM image.</summary>
    public long WritebackBacklogPageBytes => _committedPageBytes;

    /// <summary>The newest committed epoch whose acknowledgement waits for the write-back (see <see cref="AcknowledgeOrWithhold"/>); 0 when none does.</summary>
    public long WithheldAcknowledgement => _withheldAck;

    /// <summary>Writes left out of the write-back because a later write of the same segment rewrote their range.</summary>
    public long CoalescedWrites => _segment.Coalesced;

    /// <summary>RAM pages left out of the write-back because a later epoch of the same batch dirtied them again.</summary>
    public long CoalescedRamPages => _ramPages.Coalesced;

    /// <summary>The journal entry asked for by <see cref="ISecondaryActions.PersistEpoch"/> is durable: the epoch is committed.</summary>
    public void OnEpochPersisted(long epoch)
    {
        if (!_persisting.TryPeek(out EpochLog? log) || log.Epoch != epoch)
        {
            throw new InvalidOperationException($"epoch {epoch} reported persisted, but the next epoch being journalled is {(log is null ? "none" : log.Epoch)}");
        }

        _persisting.Dequeue();
        LastCommittedEpoch = epoch;
        LastCommittedSequence = log.Checkpoint!.LastSequence;
        CommittedMidResync = log.Checkpoint.ResyncPending;
        if (!CommittedMidResync)
        {
            _resyncRunning = false;
        }

        _committed.Enqueue(log);
        _committedBytes += log.BufferBytes;
        _committedPageBytes += log.SnapshotPageBytes;

        // I1/I5: the acknowledgement leaves only now, after the commit point.
        AcknowledgeOrWithhold(epoch);

        // The epoch is durable in the journal: its credit goes back now, not after the write-back,
        // as far as the write-back backlog stays within its bound.
        SettleCredit(log.BufferBytes);

        // The epoch just queued is applied before a promotion can complete (OnApplied checks).
        ApplyNextCommitted();
        TakeOverIfSettled();
    }

    /// <summary>
    /// The journal write failed: the epoch is not committed, and no later one can be. A failover
    /// still lands on the last committed epoch.
    /// </summary>
    public void OnPersistFailed(long epoch, string reason)
    {
        if (!_persisting.TryPeek(out EpochLog? first) || first.Epoch != epoch)
        {
            return; // already refused with an earlier failure
        }

        long freed = 0;
        while (_persisting.TryDequeue(out EpochLog? log))
        {
            freed += log.BufferBytes;
            log.Release();
        }

        Free(freed, returnCredit: false);
        _journalFailed = true;
        _lastSealedMidResync = CommittedMidResync;
        if (Phase == SecondaryPhase.Replicating)
        {
            Stall(epoch, $"journal write failed: {reason}");
        }

        CompletePromotionIfDrained();
    }

    /// <summary>The state record asked for by <see cref="ISecondaryActions.MarkApplied"/> is durable: the batch through <paramref name="epoch"/> is written back.</summary>
    public void OnApplied(long epoch)
    {
        if (_applyingThrough == 0 || epoch != _applyingThrough)
        {
            throw new InvalidOperationException($"epoch {epoch} reported applied, but the batch being written back ends at {(_applyingThrough == 0 ? "none" : _applyingThrough)}");
        }

        _applyingThrough = 0;
        LastAppliedEpoch = epoch;
        long freed = 0;
        while (_committed.TryPeek(out EpochLog? log) && log.Epoch <= epoch)
        {
            _committed.Dequeue();
            freed += log.BufferBytes;
            _committedPageBytes -= log.SnapshotPageBytes;
            if (Takeover is null)
            {
                log.Release();
                Recycle(log);
            }

            // Otherwise the takeover's overlay still reads these payloads: it releases them when it closes.
        }

        BufferedBytes -= freed;
        _committedBytes -= freed;
        SettleCredit(0);
        if (_withheldAck != 0)
        {
            AcknowledgeOrWithhold(_withheldAck);
        }

        ApplyNextCommitted();
        CompletePromotionIfDrained();
    }

    /// <summary>
    /// Acknowledges <paramref name="epoch"/> (and, acknowledgements being cumulative, every earlier
    /// one) unless the RAM pages of the committed checkpoints waiting for the write-back are beyond
    /// <see cref="SecondaryOptions.WritebackPageCapacityBytes"/>: then the acknowledgement waits until
    /// the write-back brings them back within it. Credit bounds the records in RAM; nothing bounds
    /// the checkpoints a primary sends but its acknowledgements, since it starts no checkpoint
    /// while <see cref="Primary.PrimaryOptions.MaxUnacknowledgedCheckpoints"/> wait for one. So a
    /// guest dirtying RAM faster than this node writes it back gets longer epochs, not a secondary
    /// whose memory grows without bound.
    /// </summary>
    private void AcknowledgeOrWithhold(long epoch)
    {
        if (Phase is not (SecondaryPhase.Replicating or SecondaryPhase.Stalled))
        {
            _withheldAck = 0;
            return;
        }

        if (_committedPageBytes > _options.WritebackPageCapacityBytes)
        {
            _withheldAck = epoch;
            return;
        }

        _withheldAck = 0;
        _actions.AcknowledgeEpoch(epoch);
    }

    /// <summary>
    /// Returns the credit of <paramref name="newlyCommitted"/> bytes, and of any held back before,
    /// except what keeps the write-back backlog beyond its bound: that much stays held until the
    /// write-back drains it. Each committed byte's credit is so returned exactly once. With a bound
    /// of 0 all credit comes back after the write-back, as it did before the journal was the buffer.
    /// </summary>
    private void SettleCredit(long newlyCommitted)
    {
        long held = Math.Max(0, _committedBytes - _options.WritebackCapacityBytes);
        long returned = newlyCommitted + _withheldCredit - held;
        _withheldCredit = held;
        if (returned > 0 && Phase == SecondaryPhase.Replicating)
        {
            _actions.ReturnCredit(returned);
        }
    }

    /// <summary>
    /// Replays a committed epoch found whole in the journal at start-up (it was acknowledged, or
    /// could have been, before a crash). Call in epoch order, before any other event.
    /// </summary>
    public void RecoverCommittedEpoch(CheckpointRecord checkpoint, IReadOnlyList<MirrorRecord> records)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(records);
        // The first epoch of a resync was checked against the resync start before it was journalled:
        // the jump it makes is the one that start announced.
        bool follows = checkpoint.StartsResync
            ? checkpoint.Epoch > _lastSealedEpoch && checkpoint.FirstSequence > _lastSealedSequence
            : checkpoint.Epoch == _lastSealedEpoch + 1 && checkpoint.FirstSequence == _lastSealedSequence + 1;
        if (!follows || records.Count != checkpoint.RecordCount)
        {
            throw new InvalidOperationException($"journal entry for epoch {checkpoint.Epoch} does not follow epoch {_lastSealedEpoch} ending at sequence {_lastSealedSequence}");
        }

        var log = new EpochLog(checkpoint.Epoch);
        foreach (MirrorRecord record in records)
        {
            if (log.Add(record, null, out _) != EpochLog.AddResult.Added)
            {
                throw new InvalidOperationException($"journal entry for epoch {checkpoint.Epoch} repeats sequence number {record.Sequence}");
            }
        }

        if (!log.SetCheckpoint(checkpoint) || log.Digest != checkpoint.Digest)
        {
            throw new InvalidOperationException($"journal entry for epoch {checkpoint.Epoch} does not match its digest");
        }

        log.Seal();
        BufferedBytes += log.BufferBytes;
        _committedBytes += log.BufferBytes;
        _committedPageBytes += log.SnapshotPageBytes;
        SettleCredit(0);
        _lastSealedEpoch = LastCommittedEpoch = checkpoint.Epoch;
        _lastSealedSequence = LastCommittedSequence = checkpoint.LastSequence;
        _lastSealedMidResync = CommittedMidResync = checkpoint.ResyncPending;
        _committed.Enqueue(log);
        ApplyNextCommitted();
    }

    private void Persist(EpochLog log)
    {
        _persisting.Enqueue(log);
        _actions.PersistEpoch(log);
    }

    /// <summary>
    /// Emits the write-back of the committed epochs queued now (up to <see cref="MaxWritebackBatchBytes"/>),
    /// in sequence order. Each barrier the primary recorded is kept: a flush becomes an image flush
    /// before any later write (unless nothing was written since the last one), a FUA write is durable
    /// before the next action runs, and between barriers a write whose range is rewritten later is
    /// left out. So even without the journal, a power cut mid-write-back leaves a legal crash state
    /// of the committed history (I4). One image flush (when anything was written since the last
    /// barrier), the batch's RAM pages (each page once, as its last epoch left it:
    /// <see cref="WritebackRamPages"/>) and one state record then close the batch.
    /// </summary>
    private void ApplyNextCommitted()
    {
        if (_applyingThrough != 0 || _committed.Count == 0)
        {
            return;
        }

        long batchBytes = 0;
        bool written = false;
        EpochLog? last = null;
        foreach (EpochLog log in _committed)
        {
            if (last is not null && batchBytes + log.BufferBytes > MaxWritebackBatchBytes)
            {
                break;
            }

            batchBytes += log.BufferBytes;
            last = log;
            foreach (ref readonly BufferedRecord held in log.Records)
            {
                MirrorRecord record = held.Record;
                switch (record.Request.Op)
                {
                    case BlockOp.Write or BlockOp.WriteZeroes or BlockOp.Trim:
                        _segment.Add(record);
                        written = true;
                        if (record.Request.Fua)
                        {
                            // Durable when done: a barrier for what follows.
                            _segment.Emit(_actions);
                            written = false;
                        }

                        break;
                    case BlockOp.Verify:
                        // Compared against the image at this place in the sequence: after every record before it, before any after.
                        _segment.Emit(_actions);
                        _actions.WriteImage(record);
                        break;
                    case BlockOp.Flush:
                        _segment.Emit(_actions);
                        if (written)
                        {
                            _actions.FlushImage();
                            written = false;
                        }

                        break;
                }
            }
        }

        // The batch's writes are durable before its "applied" record. A batch that wrote nothing
        // since its last barrier (an idle epoch, or one ending in the guest's own flush) has
        // nothing to flush: every batch before it ended flushed, so the image holds nothing
        // unflushed, and an idle pair does not flush its disk at every checkpoint.
        _segment.Emit(_actions);
        if (written)
        {
            _actions.FlushImage();
        }

        foreach (EpochLog log in _committed)
        {
            _ramPages.Add(log);
            if (log == last)
            {
                break;
            }
        }

        _actions.ApplyVmSnapshot(_ramPages.Take());

        _applyingThrough = last!.Epoch;
        _actions.MarkApplied(last.Epoch, last.Checkpoint!.LastSequence);
    }
}
