using System.Runtime.InteropServices;
using Replicator.Core.Epochs;

namespace Replicator.Core.Secondary;

/// <summary>
/// The secondary's buffer for one epoch: its records, its checkpoint once it arrives, and the
/// running digest. Records are appended as they arrive (in any order) and sorted by sequence
/// number once, when the epoch is sealed. After sealing the log is read-only.
/// </summary>
public sealed class EpochLog
{
    private readonly List<BufferedRecord> _records = new(64);
    private EpochDigest _digest;
    // Both only a shortcut for the common case of records arriving in sequence order: no search for
    // a repeated number, and no sort at seal. Without them every arrival would be searched for and
    // every seal sorted, with the same outcome (docs/mutation.md counts their mutants as equivalent).
    private long _maxSequence = long.MinValue;
    private bool _inOrder = true;
    // The memory the checkpoint's pages lie in, when they were received into pooled memory.
    private IDisposable? _snapshotOwner;

    internal EpochLog(long epoch, long incarnation = 0)
    {
        Epoch = epoch;
        Incarnation = incarnation;
    }

    public long Epoch { get; private set; }

    /// <summary>
    /// Which use of this log it is: unique for every epoch the engine opens, since a log is reused and
    /// an epoch discarded (a link lost) may be opened again. Whatever was written ahead for one
    /// incarnation is never taken for another's (<see cref="ISecondaryActions.StageRecord"/>).
    /// </summary>
    public long Incarnation { get; private set; }

    /// <summary>The checkpoint that closes this epoch, once it arrived.</summary>
    public CheckpointRecord? Checkpoint { get; private set; }

    public int Count => _records.Count;

    /// <summary>What the epoch costs in the buffer bound.</summary>
    public long BufferBytes { get; private set; }

    /// <summary>The RAM pages' bytes its checkpoint carries (0 until the checkpoint arrives): what it holds in RAM until written back.</summary>
    public long SnapshotPageBytes { get; private set; }

    /// <summary>The records; in sequence order once the epoch is sealed.</summary>
    public ReadOnlySpan<BufferedRecord> Records => CollectionsMarshal.AsSpan(_records);

    internal ulong Digest => _digest.Value;

    /// <summary>Every sequence number the checkpoint names has arrived (and nothing else could have been added).</summary>
    internal bool IsComplete => Checkpoint is not null && _records.Count == Checkpoint.RecordCount;

    /// <summary>Adds a record; <paramref name="hash"/> is its <see cref="EpochDigest.RecordHash"/>, computed here once (0 when out of range).</summary>
    internal AddResult Add(in MirrorRecord record, IDisposable? owner, out ulong hash)
    {
        hash = 0;
        if (Checkpoint is not null && (record.Sequence < Checkpoint.FirstSequence || record.Sequence > Checkpoint.LastSequence))
        {
            return AddResult.OutOfRange;
        }

        hash = EpochDigest.RecordHash(record);
        if (record.Sequence <= _maxSequence)
        {
            // Rare: a retransmission or a reordered arrival. Look for the same number.
            foreach (BufferedRecord held in _records)
            {
                if (held.Record.Sequence == record.Sequence)
                {
                    return held.Hash == hash ? AddResult.Duplicate : AddResult.Conflict;
                }
            }

            _inOrder = false;
        }
        else
        {
            _maxSequence = record.Sequence;
        }

        _records.Add(new BufferedRecord(record, owner, hash));
        _digest.AddHash(hash);
        BufferBytes += record.BufferCost;
        return AddResult.Added;
    }

    /// <summary>
    /// Sets the checkpoint, whose pages lie in <paramref name="snapshotOwner"/>'s memory if it is
    /// given (disposed by <see cref="Release"/>); false when a record already held lies outside the
    /// range it names.
    /// </summary>
    internal bool SetCheckpoint(CheckpointRecord checkpoint, IDisposable? snapshotOwner = null)
    {
        Checkpoint = checkpoint;
        _snapshotOwner = snapshotOwner;
        long pageBytes = 0;
        foreach (Vm.VmPage page in checkpoint.Snapshot.Pages)
        {
            pageBytes += page.Data.Length;
        }

        SnapshotPageBytes = pageBytes;
        foreach (BufferedRecord held in _records)
        {
            if (held.Record.Sequence < checkpoint.FirstSequence || held.Record.Sequence > checkpoint.LastSequence)
            {
                return false;
            }
        }

        return true;
    }

    internal void Seal()
    {
        if (!_inOrder)
        {
            _records.Sort(static (a, b) => a.Record.Sequence.CompareTo(b.Record.Sequence));
        }
    }

    /// <summary>
    /// Returns every pooled payload to its owner, and the checkpoint's pages unless
    /// <paramref name="keepSnapshot"/>: a takeover hands its checkpoints' snapshots on, so their memory
    /// is left to the collector rather than lent again. The log is empty afterwards; releasing it
    /// again returns nothing twice.
    /// </summary>
    internal void Release(bool keepSnapshot = false)
    {
        foreach (BufferedRecord held in _records)
        {
            held.PayloadOwner?.Dispose();
        }

        if (!keepSnapshot)
        {
            _snapshotOwner?.Dispose();
        }

        _snapshotOwner = null;

        _records.Clear();
        BufferBytes = 0;
    }

    /// <summary>
    /// Takes a released log up again for another epoch, keeping its record list's capacity: in
    /// steady state buffering a write then allocates nothing.
    /// </summary>
    internal EpochLog Reuse(long epoch, long incarnation)
    {
        Epoch = epoch;
        Incarnation = incarnation;
        Checkpoint = null;
        SnapshotPageBytes = 0;
        _digest = default;
        _maxSequence = long.MinValue;
        _inOrder = true;
        return this;
    }

    internal enum AddResult
    {
        Added,
        Duplicate,
        Conflict,
        OutOfRange,
    }
}
