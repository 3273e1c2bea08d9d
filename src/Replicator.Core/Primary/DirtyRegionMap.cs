namespace Replicator.Core.Primary;

/// <summary>
/// For each fixed-size region of the disk, the last epoch that wrote it. A region the secondary
/// may lack is one written in an epoch after the last acknowledged one: exactly what a resync
/// must copy after the secondary was lost. One array store per request, no allocation.
/// </summary>
/// <remarks>
/// <see cref="Unknown"/> marks a region the secondary may lack whatever it acknowledges: a local
/// write failed there, or a resync has yet to copy it. Only <see cref="MarkCopied"/> clears it, so
/// a guest write into such a region never makes it look clean.
/// </remarks>
internal sealed class DirtyRegionMap
{
    private const long Unknown = long.MaxValue;

    private readonly long[] _lastWrittenEpoch;

    // For a region still unknown: the last epoch a guest wrote it in meanwhile (0: none), so that a
    // copy or a checksum taken before that write does not make the region look older than it is.
    private readonly long[] _writtenWhileUnknown;
    private readonly long _diskBytes;

    public DirtyRegionMap(long diskBytes, int regionBytes)
    {
        _diskBytes = diskBytes;
        RegionBytes = regionBytes;
        _lastWrittenEpoch = new long[(diskBytes + regionBytes - 1) / regionBytes];
        _writtenWhileUnknown = new long[_lastWrittenEpoch.Length];
    }

    public int RegionBytes { get; }

    public long RegionCount => _lastWrittenEpoch.Length;

    /// <summary>Whether the region was written (or is unknown) after <paramref name="epoch"/>: a secondary holding that checkpoint may lack it.</summary>
    public bool IsNewerThan(long region, long epoch) => _lastWrittenEpoch[region] > epoch;

    public void Mark(long offset, int length, long epoch)
    {
        long first = offset / RegionBytes;
        long last = (offset + Math.Max(length, 1) - 1) / RegionBytes;
        for (long r = first; r <= last; r++)
        {
            if (_lastWrittenEpoch[r] != Unknown)
            {
                _lastWrittenEpoch[r] = epoch;
            }
            else
            {
                _writtenWhileUnknown[r] = epoch;
            }
        }
    }

    /// <summary>
    /// Marks a range whose contents the primary no longer knows (its local write failed): the
    /// replica's copy may differ whatever is acknowledged later, so it stays dirty until a resync.
    /// </summary>
    public void MarkDiverged(long offset, int length)
    {
        long first = offset / RegionBytes;
        long last = (offset + Math.Max(length, 1) - 1) / RegionBytes;
        for (long r = first; r <= last; r++)
        {
            _lastWrittenEpoch[r] = Unknown;
        }
    }

    /// <summary>A resync will copy the region: until it has, no acknowledgement makes it clean.</summary>
    public void MarkPending(long region) => _lastWrittenEpoch[region] = Unknown;

    /// <summary>
    /// The whole region was sent (or found equal) in <paramref name="epoch"/>: the secondary has it
    /// once that epoch commits — and any guest write into it since, once that write's epoch does.
    /// </summary>
    public void MarkCopied(long region, long epoch)
    {
        _lastWrittenEpoch[region] = Math.Max(epoch, _writtenWhileUnknown[region]);
        _writtenWhileUnknown[region] = 0;
    }

    /// <summary>The byte range a region covers (the last one may be short).</summary>
    public (long Offset, long Length) RangeOf(long region)
    {
        long offset = region * RegionBytes;
        return (offset, Math.Min(RegionBytes, _diskBytes - offset));
    }

    /// <summary>Every region of the disk: what a whole-image sync copies.</summary>
    public IEnumerable<long> AllRegions()
    {
        for (long r = 0; r < _lastWrittenEpoch.Length; r++)
        {
            yield return r;
        }
    }

    /// <summary>The regions written after <paramref name="acknowledgedEpoch"/>: what the secondary may lack.</summary>
    public IEnumerable<long> RegionsNewerThan(long acknowledgedEpoch)
    {
        for (long r = 0; r < _lastWrittenEpoch.Length; r++)
        {
            if (_lastWrittenEpoch[r] > acknowledgedEpoch)
            {
                yield return r;
            }
        }
    }
}
