namespace Replicator.Core.Primary;

/// <summary>
/// For each fixed-size region of the disk, the last epoch that wrote it. A region the secondary
/// may lack is one written in an epoch after the last acknowledged one: exactly what a resync
/// must copy after the secondary was lost. One array store per request, no allocation.
/// </summary>
internal sealed class DirtyRegionMap
{
    private readonly long[] _lastWrittenEpoch;
    private readonly int _regionBytes;

    public DirtyRegionMap(long diskBytes, int regionBytes)
    {
        _regionBytes = regionBytes;
        _lastWrittenEpoch = new long[(diskBytes + regionBytes - 1) / regionBytes];
    }

    public void Mark(long offset, int length, long epoch)
    {
        long first = offset / _regionBytes;
        long last = (offset + Math.Max(length, 1) - 1) / _regionBytes;
        for (long r = first; r <= last; r++)
        {
            _lastWrittenEpoch[r] = epoch;
        }
    }

    /// <summary>
    /// Marks a range whose contents the primary no longer knows (its local write failed): the
    /// replica's copy may differ whatever is acknowledged later, so it stays dirty until a resync.
    /// </summary>
    public void MarkDiverged(long offset, int length) => Mark(offset, length, long.MaxValue);

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
