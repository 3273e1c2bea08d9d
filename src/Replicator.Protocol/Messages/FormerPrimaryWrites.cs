using System.Globalization;
using MessagePack;

namespace Replicator.Protocol.Messages;

/// <summary>
/// What a node that was a primary and now comes back as a secondary may hold that its new primary
/// lacks: the byte ranges its own dirty log names (writes after the last checkpoint its old
/// secondary acknowledged, and the extents hot when it stopped), against which secondary checkpoint
/// and data generation they were kept. Sent in the welcome until a sync makes the node equal to its
/// new primary; the new primary copies these ranges too, so the old primary's uncommitted writes are
/// rolled back. <see cref="Known"/> false: the node cannot say (no trusted dirty log), and only a
/// whole-image sync can make it equal.
/// </summary>
[MessagePackObject]
public sealed partial class FormerPrimaryWrites
{
    /// <summary>Ranges a welcome carries at most: a node with more sends them coarsened (a superset) instead.</summary>
    public const int MaxRanges = 16_384;

    [Key(0)]
    public bool Known { get; set; }

    /// <summary>The data generation (its id) of the secondary whose checkpoint the ranges are counted from; 0 with none.</summary>
    [Key(1)]
    public long Generation { get; set; }

    /// <summary>That secondary checkpoint, in the stream the two nodes shared.</summary>
    [Key(2)]
    public long AcknowledgedEpoch { get; set; }

    /// <summary>Offset and length of each range, flat, in increasing order, none overlapping or touching.</summary>
    [Key(3)]
    public long[] Ranges { get; set; } = [];

    /// <summary>Why the writes are not known (with <see cref="Known"/> false), for the operator.</summary>
    [Key(4)]
    public string? UnknownBecause { get; set; }

    [IgnoreMember]
    public int RangeCount => Ranges.Length / 2;

    [IgnoreMember]
    public long Bytes
    {
        get
        {
            long total = 0;
            for (int i = 1; i < Ranges.Length; i += 2)
            {
                total += Ranges[i];
            }

            return total;
        }
    }

    /// <summary>Writes that cannot be known: the new primary must copy the whole image.</summary>
    public static FormerPrimaryWrites Unknown(string because) => new() { Known = false, UnknownBecause = because };

    /// <summary>
    /// The ranges of <paramref name="sortedRanges"/> (in increasing order, not overlapping), merged
    /// where they touch; past <paramref name="maxRanges"/> they are widened to ever coarser aligned
    /// blocks until they fit, so the set only ever grows (never a byte less).
    /// </summary>
    public static FormerPrimaryWrites From(long generation, long acknowledgedEpoch, IEnumerable<(long Offset, long Length)> sortedRanges, long imageBytes, int maxRanges = MaxRanges)
    {
        ArgumentNullException.ThrowIfNull(sortedRanges);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRanges, 1);
        List<(long Offset, long Length)> ranges = Merge(sortedRanges, 1, imageBytes);
        for (long block = 2; ranges.Count > maxRanges; block *= 2)
        {
            ranges = Merge(ranges, block, imageBytes);
        }

        long[] flat = new long[ranges.Count * 2];
        for (int i = 0; i < ranges.Count; i++)
        {
            flat[2 * i] = ranges[i].Offset;
            flat[(2 * i) + 1] = ranges[i].Length;
        }

        return new FormerPrimaryWrites { Known = true, Generation = generation, AcknowledgedEpoch = acknowledgedEpoch, Ranges = flat };
    }

    /// <summary>The ranges as pairs.</summary>
    public IEnumerable<(long Offset, long Length)> Pairs()
    {
        for (int i = 0; i + 1 < Ranges.Length; i += 2)
        {
            yield return (Ranges[i], Ranges[i + 1]);
        }
    }

    /// <summary>Why a peer's ranges cannot be taken as sent, or null.</summary>
    public string? Problem(long imageBytes)
    {
        if (!Known)
        {
            return Ranges is { Length: 0 } ? null : "writes said to be unknown, with ranges";
        }

        if (Ranges is null || Ranges.Length % 2 != 0)
        {
            return "former-primary writes that are not offset and length pairs";
        }

        if (RangeCount > MaxRanges)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{RangeCount} former-primary write ranges (at most {MaxRanges})");
        }

        long end = -1;
        foreach ((long offset, long length) in Pairs())
        {
            if (offset <= end || length <= 0 || offset > imageBytes - length)
            {
                return string.Create(CultureInfo.InvariantCulture, $"a former-primary write range at {offset} of {length} bytes that is out of order, empty or past the {imageBytes}-byte image");
            }

            end = offset + length;
        }

        return null;
    }

    private static List<(long Offset, long Length)> Merge(IEnumerable<(long Offset, long Length)> ranges, long block, long imageBytes)
    {
        var merged = new List<(long Offset, long Length)>();
        foreach ((long offset, long length) in ranges)
        {
            long start = offset / block * block;
            long end = Math.Min(imageBytes, ((offset + length + block - 1) / block) * block);
            if (merged.Count > 0 && merged[^1].Offset + merged[^1].Length >= start)
            {
                (long o, long l) = merged[^1];
                merged[^1] = (o, Math.Max(o + l, end) - o);
            }
            else
            {
                merged.Add((start, end - start));
            }
        }

        return merged;
    }
}
