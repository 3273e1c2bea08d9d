using System.Buffers;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Vm;

namespace Replicator.Core.Secondary;

/// <summary>
/// The committed-but-unapplied epochs of a node taking over, as reads and writes of the new primary
/// see them while the write-back drains them into the image: a read is the image with these records
/// laid over it (the newest committed data), and a write that overlaps one of them waits until the
/// drain is over. Built once, when the promotion's checkpoint is settled, from the engine's committed
/// epochs; the records' payloads stay the overlay's until <see cref="Close"/>, after the drain is
/// durable. The one object of the secondary's engine other threads may use: its index never changes,
/// and a count of readers keeps payloads alive while a reader copies from them.
/// </summary>
public sealed class CommittedOverlay
{
    private readonly EpochLog[] _logs;
    private readonly Entry[] _byOffset;
    private readonly int _longest;
    private int _readers;
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _isClosed;

    internal CommittedOverlay(long epoch, IEnumerable<EpochLog> committed)
    {
        Epoch = epoch;
        _logs = [.. committed];
        int count = 0;
        foreach (EpochLog log in _logs)
        {
            count += log.Count;
        }

        var entries = new List<Entry>(count);
        int order = 0;
        for (int l = 0; l < _logs.Length; l++)
        {
            ReadOnlySpan<BufferedRecord> records = _logs[l].Records;
            for (int r = 0; r < records.Length; r++, order++)
            {
                BlockRequest request = records[r].Record.Request;
                if (!request.ChangesData || request.Length == 0)
                {
                    continue;
                }

                entries.Add(new Entry(request.Offset, request.Length, order, l, r));
                _longest = Math.Max(_longest, request.Length);
                Bytes += request.Length;
            }
        }

        VmSnapshots = [.. _logs.Select(log => log.Checkpoint!.Snapshot)];
        _byOffset = [.. entries];
        Array.Sort(_byOffset, static (a, b) => a.Offset != b.Offset ? a.Offset.CompareTo(b.Offset) : a.Order.CompareTo(b.Order));
        if (_byOffset.Length == 0)
        {
            Close();
        }
    }

    /// <summary>The checkpoint the image holds once the drain is over, and the overlay shows now.</summary>
    public long Epoch { get; }

    /// <summary>Bytes the overlay's records change (each record counted once, overlaps included).</summary>
    public long Bytes { get; }

    /// <summary>
    /// The committed checkpoints' VM snapshots, in order: those newer than the VM state stored now,
    /// laid over it, give the VM state of <see cref="Epoch"/> (a node resuming a VM need not wait for
    /// the drain either).
    /// </summary>
    public IReadOnlyList<VmSnapshot> VmSnapshots { get; }

    /// <summary>Records that change data.</summary>
    public int Count => _byOffset.Length;

    /// <summary>True until the drain is durable: reads still need the overlay, overlapping writes wait.</summary>
    public bool IsOpen => !_isClosed;

    /// <summary>Completes when the drain is durable and the overlay is gone (at once when it held nothing).</summary>
    public Task Closed => _closed.Task;

    /// <summary>Whether a write of this range must wait for the drain: it overlaps a committed record not yet durable in the image alone.</summary>
    public bool Overlaps(long offset, long length)
    {
        if (_isClosed || length <= 0)
        {
            return false;
        }

        long end = offset + length;
        for (int i = FirstCandidate(offset); i < _byOffset.Length && _byOffset[i].Offset < end; i++)
        {
            if (_byOffset[i].End > offset)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Reads <paramref name="destination"/> at <paramref name="offset"/> as the newest committed data:
    /// <paramref name="readImage"/> fills it from the image, then the overlay's records are laid over
    /// it in their order. A reader that found the overlay open lays it over whatever the image gave
    /// (the drain may be half way through that range); one that found it closed reads the image alone,
    /// which by then holds everything durably.
    /// </summary>
    public void Read<TImage>(TImage readImage, long offset, Span<byte> destination)
        where TImage : IImageReader, allows ref struct
    {
        if (_isClosed)
        {
            readImage.Read(offset, destination);
            return;
        }

        Interlocked.Increment(ref _readers);
        try
        {
            bool open = !_isClosed;
            readImage.Read(offset, destination);
            if (open)
            {
                LayOver(offset, destination);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _readers);
        }
    }

    /// <summary>The drain is durable: the payloads go back to their pools once no reader holds them.</summary>
    internal void Close()
    {
        if (_isClosed)
        {
            return;
        }

        // From here no reader starts laying records over; the ones already doing so finish first.
        _isClosed = true;
        Interlocked.MemoryBarrier(); // the flag is seen before the count is read (a reader increments, then looks)
        var wait = default(SpinWait);
        while (Volatile.Read(ref _readers) > 0)
        {
            wait.SpinOnce();
        }

        foreach (EpochLog log in _logs)
        {
            log.Release(keepSnapshot: true); // VmSnapshots outlive the overlay
        }

        _closed.TrySetResult();
    }

    /// <summary>Lays the overlapping records over <paramref name="destination"/> in their commit order.</summary>
    private void LayOver(long offset, Span<byte> destination)
    {
        long end = offset + destination.Length;
        int[] rented = ArrayPool<int>.Shared.Rent(16);
        int found = 0;
        try
        {
            for (int i = FirstCandidate(offset); i < _byOffset.Length && _byOffset[i].Offset < end; i++)
            {
                if (_byOffset[i].End <= offset)
                {
                    continue;
                }

                if (found == rented.Length)
                {
                    int[] larger = ArrayPool<int>.Shared.Rent(rented.Length * 2);
                    rented.AsSpan(0, found).CopyTo(larger);
                    ArrayPool<int>.Shared.Return(rented);
                    rented = larger;
                }

                rented[found++] = i;
            }

            Span<int> overlapping = rented.AsSpan(0, found);
            overlapping.Sort(new ByOrder(_byOffset));
            foreach (int i in overlapping)
            {
                Entry entry = _byOffset[i];
                Lay(_logs[entry.Log].Records[entry.Record].Record, offset, destination);
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(rented);
        }
    }

    /// <summary>The first entry that may reach <paramref name="offset"/>: none starting earlier than the longest record before it can.</summary>
    private int FirstCandidate(long offset)
    {
        long from = offset - _longest;
        int lo = 0, hi = _byOffset.Length;
        while (lo < hi)
        {
            int mid = lo + ((hi - lo) / 2);
            if (_byOffset[mid].Offset < from)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    /// <summary>
    /// Lays one committed record over <paramref name="destination"/> (image bytes at <paramref name="offset"/>):
    /// its data for a write, zeroes for write-zeroes and trim (a trimmed range reads as zeroes here).
    /// </summary>
    internal static void Lay(in MirrorRecord record, long offset, Span<byte> destination)
    {
        BlockRequest request = record.Request;
        long end = offset + destination.Length;
        if (!request.ChangesData || request.Offset >= end || request.End <= offset)
        {
            return;
        }

        long from = Math.Max(offset, request.Offset);
        int length = (int)(Math.Min(end, request.End) - from);
        Span<byte> target = destination.Slice((int)(from - offset), length);
        if (request.Op == BlockOp.Write)
        {
            record.Payload.Span.Slice((int)(from - request.Offset), length).CopyTo(target);
        }
        else
        {
            target.Clear();
        }
    }

    private readonly record struct Entry(long Offset, int Length, int Order, int Log, int Record)
    {
        public long End => Offset + Length;
    }

    private readonly struct ByOrder(Entry[] entries) : IComparer<int>
    {
        public int Compare(int x, int y) => entries[x].Order.CompareTo(entries[y].Order);
    }
}

/// <summary>Reads the image under a <see cref="CommittedOverlay"/> (a struct, so a read through the overlay allocates nothing).</summary>
public interface IImageReader
{
    void Read(long offset, Span<byte> destination);
}
