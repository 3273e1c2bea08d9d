using Replicator.Core.Blocks;
using Replicator.Core.Epochs;

namespace Replicator.Core.Secondary;

/// <summary>
/// The committer: a sealed epoch is journalled (the commit point), acknowledged, then applied to
/// the image honouring its barriers, with its VM snapshot, and only then released from RAM.
/// </summary>
public sealed partial class SecondaryEngine
{
    private readonly Queue<EpochLog> _persisting = new();
    private readonly Queue<EpochLog> _committed = new();
    private bool _applying;

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

        // I1/I5: the acknowledgement leaves only now, after the commit point.
        if (Phase is SecondaryPhase.Replicating or SecondaryPhase.Stalled)
        {
            _actions.AcknowledgeEpoch(epoch);
        }

        // The epoch just queued is applied before a promotion can complete (OnApplied checks).
        ApplyNextCommitted();
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

    /// <summary>The state record asked for by <see cref="ISecondaryActions.MarkApplied"/> is durable.</summary>
    public void OnApplied(long epoch)
    {
        if (!_applying || !_committed.TryPeek(out EpochLog? log) || log.Epoch != epoch)
        {
            throw new InvalidOperationException($"epoch {epoch} reported applied, but it is not the epoch being applied");
        }

        _committed.Dequeue();
        _applying = false;
        LastAppliedEpoch = epoch;
        long freed = log.BufferBytes;
        log.Release();
        Recycle(log);
        Free(freed, returnCredit: Phase == SecondaryPhase.Replicating);
        ApplyNextCommitted();
        CompletePromotionIfDrained();
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
            if (log.Add(record, null) != EpochLog.AddResult.Added)
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
    /// Emits the next committed epoch's image writes in sequence order. Each barrier the primary
    /// recorded is kept: a flush becomes an image flush before any later write, and a FUA write is
    /// durable before the next action runs. So even without the journal, a power cut mid-apply
    /// leaves a legal crash state of the committed history (I4).
    /// </summary>
    private void ApplyNextCommitted()
    {
        if (_applying || !_committed.TryPeek(out EpochLog? log))
        {
            return;
        }

        _applying = true;
        foreach (ref readonly BufferedRecord held in log.Records)
        {
            switch (held.Record.Request.Op)
            {
                case BlockOp.Write or BlockOp.WriteZeroes or BlockOp.Trim:
                    _actions.WriteImage(held.Record);
                    break;
                case BlockOp.Verify:
                    // Compared against the image at this place in the sequence: after every record before it, before any after.
                    _actions.WriteImage(held.Record);
                    break;
                case BlockOp.Flush:
                    _actions.FlushImage();
                    break;
            }
        }

        CheckpointRecord checkpoint = log.Checkpoint!;
        _actions.FlushImage();
        _actions.ApplyVmSnapshot(checkpoint.Snapshot);
        _actions.MarkApplied(log.Epoch, checkpoint.LastSequence);
    }
}
