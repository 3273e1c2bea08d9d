using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Testing;

namespace Replicator.Core.Secondary;

/// <summary>
/// The secondary's state machine: the RAM block buffer (records by epoch, bounded), the committer
/// (seal a complete and verified epoch, journal it, acknowledge, apply it with its barriers) and
/// failover. Events come in through the public methods; actions go out through
/// <see cref="ISecondaryActions"/>. Single-threaded by contract.
/// </summary>
public sealed partial class SecondaryEngine
{
    private readonly SecondaryOptions _options;
    private readonly ISecondaryActions _actions;
    private readonly Dictionary<long, EpochLog> _open = new();
    private long _lastSealedEpoch;
    private long _lastSealedSequence;

    /// <summary>The highest epoch sealed here, or announced by a resync start: a new stream must begin past it.</summary>
    public long LastSealedEpoch => _lastSealedEpoch;

    /// <summary>The last sequence number of <see cref="LastSealedEpoch"/>.</summary>
    public long LastSealedSequence => _lastSealedSequence;

    /// <param name="options">Geometry and buffer bound.</param>
    /// <param name="actions">Where the engine's actions go.</param>
    /// <param name="appliedEpoch">The checkpoint the image and VM state already hold (0 for a fresh pair).</param>
    /// <param name="appliedLastSequence">The last sequence number of that checkpoint (0 for a fresh pair).</param>
    /// <param name="appliedMidResync">The image was left mid-resync by that epoch: it is no checkpoint (see <see cref="CheckpointRecord.ResyncPending"/>).</param>
    public SecondaryEngine(SecondaryOptions options, ISecondaryActions actions, long appliedEpoch = 0, long appliedLastSequence = 0, bool appliedMidResync = false)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(actions);
        options.Validate();
        _options = options;
        _actions = PlantedSecondaryActions.Wrap(actions, options.Plant, this);
        LastAppliedEpoch = LastCommittedEpoch = _lastSealedEpoch = appliedEpoch;
        LastCommittedSequence = _lastSealedSequence = appliedLastSequence;
        CommittedMidResync = _lastSealedMidResync = appliedMidResync;
    }

    public SecondaryPhase Phase { get; private set; } = SecondaryPhase.Replicating;

    /// <summary>The last epoch whose journal entry is durable and that was acknowledged.</summary>
    public long LastCommittedEpoch { get; private set; }

    /// <summary>The last sequence number of <see cref="LastCommittedEpoch"/>: where the primary's next epoch must start.</summary>
    public long LastCommittedSequence { get; private set; }

    /// <summary>The last epoch written into the image and VM state and recorded as such.</summary>
    public long LastAppliedEpoch { get; private set; }

    /// <summary>Why the stream stalled, when it did.</summary>
    public string? StallReason { get; private set; }

    /// <summary>
    /// Bytes held now in open, sealed and committed-but-unapplied epochs; never above
    /// <see cref="MemoryBoundBytes"/>.
    /// </summary>
    public long BufferedBytes { get; private set; }

    public long BufferCapacityBytes => _options.BufferCapacityBytes;

    /// <summary>
    /// The most this node holds in RAM: the credit window (records not yet committed, or committed
    /// with their credit held back) plus the write-back backlog's bound.
    /// </summary>
    public long MemoryBoundBytes => _options.BufferCapacityBytes + _options.WritebackCapacityBytes;

    /// <summary>The highest buffer occupancy seen.</summary>
    public long PeakBufferedBytes { get; private set; }

    // Enough for the epochs in flight at a steady pace (open, journalled, applying) without holding
    // on to many large record lists after a burst.
    private const int SpareLogs = 8;
    private readonly Stack<EpochLog> _spareLogs = new();

    // How many epoch logs were opened: each one's incarnation.
    private long _incarnations;

    public int OpenEpochCount => _open.Count;

    /// <summary>A mirrored record arrived. <paramref name="payloadOwner"/>, if any, is disposed when the record leaves the buffer.</summary>
    public MirrorOutcome OnMirror(in MirrorRecord record, IDisposable? payloadOwner = null)
    {
        MirrorOutcome outcome = Receive(record, payloadOwner);
        if (outcome != MirrorOutcome.Buffered)
        {
            payloadOwner?.Dispose();
        }

        return outcome;
    }

    /// <summary>
    /// The checkpoint closing an epoch arrived (perhaps before some of the epoch's records).
    /// <paramref name="snapshotOwner"/>, if any, holds the memory its pages lie in: it is disposed when
    /// the checkpoint leaves the buffer (at once when it is not kept).
    /// </summary>
    public MirrorOutcome OnCheckpoint(CheckpointRecord checkpoint, IDisposable? snapshotOwner = null)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        MirrorOutcome outcome = ReceiveCheckpoint(checkpoint, snapshotOwner, out bool kept);
        if (!kept)
        {
            snapshotOwner?.Dispose();
        }

        return outcome;
    }

    /// <summary>Takes a checkpoint into its epoch's log; <paramref name="kept"/> says whether a log holds it (and releases its memory with it).</summary>
    private MirrorOutcome ReceiveCheckpoint(CheckpointRecord checkpoint, IDisposable? snapshotOwner, out bool kept)
    {
        kept = false;
        if (!TakesFrames)
        {
            return MirrorOutcome.Refused;
        }

        if (checkpoint.Epoch <= _lastSealedEpoch)
        {
            // A retransmission after a reconnect: say again how far this node got.
            if (LastCommittedEpoch > 0)
            {
                _actions.AcknowledgeEpoch(LastCommittedEpoch);
            }

            return MirrorOutcome.Stale;
        }

        string? bad = checkpoint.Epoch > _lastSealedEpoch + _options.MaxOpenEpochs ? $"epoch is more than {_options.MaxOpenEpochs} ahead of the last sealed epoch {_lastSealedEpoch}"
            : checkpoint.LastSequence < checkpoint.FirstSequence - 1 ? $"sequence range {checkpoint.FirstSequence}..{checkpoint.LastSequence} is inverted"
            : checkpoint.Snapshot.Epoch != checkpoint.Epoch ? $"carries the snapshot of epoch {checkpoint.Snapshot.Epoch}"
            : null;
        if (bad is not null)
        {
            Stall(checkpoint.Epoch, $"checkpoint {bad}");
            return MirrorOutcome.Rejected;
        }

        EpochLog log = OpenLog(checkpoint.Epoch);
        if (log.Checkpoint is not null)
        {
            if (log.Checkpoint == checkpoint)
            {
                kept = true; // an equal checkpoint may share the log's memory: left to the collector, never returned twice
                return MirrorOutcome.Duplicate;
            }

            Stall(checkpoint.Epoch, "a second, different checkpoint for the epoch");
            return MirrorOutcome.Rejected;
        }

        // From here the log holds the checkpoint, and releases its memory with its records.
        kept = true;
        if (!log.SetCheckpoint(checkpoint, snapshotOwner))
        {
            Stall(checkpoint.Epoch, $"a record outside the checkpoint's sequence range {checkpoint.FirstSequence}..{checkpoint.LastSequence}");
            return MirrorOutcome.Rejected;
        }

        SealCompleteEpochs();
        return MirrorOutcome.Buffered;
    }

    /// <summary>
    /// Records and checkpoints are taken while replicating, and while stalled too: a stalled node
    /// seals nothing, but what a new stream sends ahead of its resync start (a transport that
    /// reorders frames may deliver it first) must be there when the start arrives. A promoted node
    /// takes nothing from any primary (I6), and neither does one whose journal failed: it can
    /// commit nothing more and refuses every resync, so holding (or refusing, one by one) what a
    /// new stream sends ahead of its start would only fill its buffer.
    /// </summary>
    private bool TakesFrames => Phase is SecondaryPhase.Replicating or SecondaryPhase.Stalled && !_journalFailed;

    private MirrorOutcome Receive(in MirrorRecord record, IDisposable? payloadOwner)
    {
        if (!TakesFrames)
        {
            return MirrorOutcome.Refused;
        }

        if (record.Epoch <= _lastSealedEpoch)
        {
            return MirrorOutcome.Stale;
        }

        string? bad = record.Epoch > _lastSealedEpoch + _options.MaxOpenEpochs ? $"epoch is more than {_options.MaxOpenEpochs} ahead of the last sealed epoch {_lastSealedEpoch}"
            : _options.Geometry.ValidateRecord(record.Request, record.Payload.Length);
        if (bad is not null)
        {
            Stall(record.Epoch, $"record {record.Sequence}: {bad}");
            return MirrorOutcome.Rejected;
        }

        if (CreditHeldBytes + record.BufferCost > _options.BufferCapacityBytes)
        {
            Stall(record.Epoch, $"record {record.Sequence} would take the buffer past its bound of {_options.BufferCapacityBytes} bytes: the primary sent beyond its credit");
            return MirrorOutcome.Rejected;
        }

        EpochLog log = OpenLog(record.Epoch);
        switch (log.Add(record, payloadOwner, out ulong hash))
        {
            case EpochLog.AddResult.Duplicate:
                return MirrorOutcome.Duplicate;
            case EpochLog.AddResult.Conflict:
                Stall(record.Epoch, $"two different records with sequence number {record.Sequence}");
                return MirrorOutcome.Rejected;
            case EpochLog.AddResult.OutOfRange:
                Stall(record.Epoch, $"record {record.Sequence} lies outside the checkpoint's sequence range");
                return MirrorOutcome.Rejected;
        }

        BufferedBytes += record.BufferCost;
        PeakBufferedBytes = Math.Max(PeakBufferedBytes, BufferedBytes);
        if (record.Epoch == _lastSealedEpoch + 1)
        {
            // The next epoch to commit: its records can go to the journal as they come, so its
            // commit is left with the checkpoint and one flush. Later epochs' would only be written again.
            _actions.StageRecord(log, record, hash);
        }

        SealCompleteEpochs();
        return MirrorOutcome.Buffered;
    }

    private EpochLog OpenLog(long epoch)
    {
        if (!_open.TryGetValue(epoch, out EpochLog? log))
        {
            long incarnation = ++_incarnations;
            log = _spareLogs.TryPop(out EpochLog? spare) ? spare.Reuse(epoch, incarnation) : new EpochLog(epoch, incarnation);
            _open.Add(epoch, log);
        }

        return log;
    }

    /// <summary>
    /// Seals, in epoch order, every next epoch that is complete and verified, and sends it to the
    /// journal. I3: an epoch with a missing record never gets here; one that arrives whole but
    /// does not match its digest, or does not follow on from the previous epoch, is refused.
    /// </summary>
    private void SealCompleteEpochs()
    {
        while (Phase == SecondaryPhase.Replicating && _open.TryGetValue(_lastSealedEpoch + 1, out EpochLog? log) && (log.IsComplete || PlantedGapSeal(log)))
        {
            CheckpointRecord checkpoint = log.Checkpoint!;
            if (checkpoint.StartsResync && log.Epoch != _resyncFirstEpoch)
            {
                // The resync start that announces this epoch has not arrived: a transport that
                // reorders or loses frames may deliver the new stream's first epoch ahead of it. The
                // epoch waits; the start seals it (or a start elsewhere discards it). A primary that
                // never sends one gets no further: its later epochs pile up until the open-epoch
                // bound refuses them.
                return;
            }

            string? bad = checkpoint.FirstSequence != _lastSealedSequence + 1 ? $"sequence gap: epoch starts at {checkpoint.FirstSequence}, the previous one ended at {_lastSealedSequence}"
                : !checkpoint.StartsResync && log.Epoch == _resyncFirstEpoch ? "the first epoch after the resync start does not say so"
                : log.Digest != checkpoint.Digest && _options.Plant != PlantedBug.CommitWithGap ? $"digest mismatch: records sum to {log.Digest:x16}, the checkpoint says {checkpoint.Digest:x16}"
                : checkpoint.Snapshot.ComputeDigest() != checkpoint.SnapshotDigest ? "the VM snapshot does not match its digest"
                : SnapshotMisfit(checkpoint.Snapshot);
            if (bad is not null)
            {
                Stall(log.Epoch, bad);
                return;
            }

            log.Seal();
            _open.Remove(log.Epoch);
            _lastSealedEpoch = log.Epoch;
            _lastSealedSequence = checkpoint.LastSequence;
            _lastSealedMidResync = checkpoint.ResyncPending;
            Persist(log);
        }
    }

    private bool PlantedGapSeal(EpochLog log) => _options.Plant == PlantedBug.CommitWithGap && log.Checkpoint is not null;

    /// <summary>Null when every page of the snapshot fits this node's RAM store; checked before commit, so a misfit is never acknowledged.</summary>
    private string? SnapshotMisfit(Vm.VmSnapshot snapshot)
    {
        if (_options.VmPageCount == 0)
        {
            return null;
        }

        foreach (Vm.VmPage page in snapshot.Pages)
        {
            if (page.Index < 0 || page.Index >= _options.VmPageCount || page.Data.Length != _options.VmPageSize)
            {
                return $"the VM snapshot's page {page.Index} ({page.Data.Length} bytes) does not fit this node's {_options.VmPageCount} pages of {_options.VmPageSize} bytes";
            }
        }

        return null;
    }

    /// <summary>Refuses an epoch: nothing from it or after it commits, and the primary is told.</summary>
    private void Stall(long epoch, string reason)
    {
        Phase = SecondaryPhase.Stalled;
        StallReason = $"epoch {epoch}: {reason}";
        DiscardOpenEpochs(returnCredit: false);
        _actions.RejectEpoch(epoch, reason);
    }

    private void DiscardOpenEpochs(bool returnCredit)
    {
        long freed = 0;
        foreach (EpochLog log in _open.Values)
        {
            freed += log.BufferBytes;
            log.Release();
            Recycle(log);
        }

        _open.Clear();
        Free(freed, returnCredit);
    }

    private void DiscardOpenEpochsBefore(long epoch)
    {
        long freed = 0;
        foreach (EpochLog log in _open.Values.Where(l => l.Epoch < epoch).ToList())
        {
            freed += log.BufferBytes;
            _open.Remove(log.Epoch);
            log.Release();
            Recycle(log);
        }

        Free(freed, returnCredit: false);
    }

    /// <summary>
    /// Keeps a released log for a later epoch. Only logs no action holds any more come here: open
    /// ones (never handed out) and applied ones (their journal write and image writes are done).
    /// </summary>
    private void Recycle(EpochLog log)
    {
        if (_spareLogs.Count < SpareLogs)
        {
            _spareLogs.Push(log);
        }
    }

    private void Free(long bytes, bool returnCredit)
    {
        BufferedBytes -= bytes;
        if (returnCredit && bytes > 0)
        {
            _actions.ReturnCredit(bytes);
        }
    }
}
