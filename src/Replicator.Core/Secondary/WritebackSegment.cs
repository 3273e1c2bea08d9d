using Replicator.Core.Epochs;

namespace Replicator.Core.Secondary;

/// <summary>
/// The image writes of a batch of committed epochs between two barriers (a flush, a FUA write, a
/// verify): a write whose range a later write of the same segment rewrites whole is left out. Between
/// barriers a disk may lose or reorder any write, so the image without it is still a legal crash
/// state of the committed history (I4), and once the segment is written it holds the same bytes.
/// Only exact repeats of a range are found (the pattern of a guest rewriting its hot blocks); a write
/// covered by several smaller ones is kept. Reused across batches: in steady state it allocates nothing.
/// </summary>
internal sealed class WritebackSegment
{
    private readonly List<MirrorRecord> _records = new(256);
    private readonly List<bool> _rewritten = new(256);
    private readonly HashSet<(long Offset, int Length)> _laterRanges = new();

    // Up to this many writes a segment is checked pairwise, without the set.
    private const int SmallSegment = 8;

    public int Count => _records.Count;

    /// <summary>Records left out of the segments emitted so far (diagnostics and tests).</summary>
    public long Coalesced { get; private set; }

    public void Add(in MirrorRecord record) => _records.Add(record);

    /// <summary>Hands the segment's writes to <paramref name="emit"/> in their order, without the rewritten ones, and empties it.</summary>
    public void Emit(ISecondaryActions emit)
    {
        if (_records.Count == 0)
        {
            return;
        }

        // Backwards, to learn which writes a later one rewrites; then forwards, so that writes that
        // overlap without repeating a range still land in the order the guest made them.
        _rewritten.Clear();
        for (int i = 0; i < _records.Count; i++)
        {
            _rewritten.Add(false);
        }

        if (_records.Count <= SmallSegment)
        {
            // A guest that flushes often makes segments of one or a few writes: compared pairwise,
            // since clearing the set costs its whole grown capacity, once per segment.
            for (int i = 0; i < _records.Count; i++)
            {
                for (int later = i + 1; later < _records.Count && !_rewritten[i]; later++)
                {
                    _rewritten[i] = SameRange(_records[i], _records[later]);
                }
            }
        }
        else
        {
            for (int i = _records.Count - 1; i >= 0; i--)
            {
                Blocks.BlockRequest request = _records[i].Request;
                _rewritten[i] = !_laterRanges.Add((request.Offset, request.Length));
            }

            _laterRanges.Clear();
        }

        for (int i = 0; i < _records.Count; i++)
        {
            if (_rewritten[i])
            {
                Coalesced++;
                continue;
            }

            emit.WriteImage(_records[i]);
        }

        _records.Clear();
    }

    private static bool SameRange(in MirrorRecord a, in MirrorRecord b) =>
        a.Request.Offset == b.Request.Offset && a.Request.Length == b.Request.Length;
}
