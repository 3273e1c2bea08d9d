using Replicator.Core.Blocks;

namespace Replicator.Core.Primary;

/// <summary>
/// Serialises overlapping data requests, as QEMU's tracked requests do: a request that overlaps
/// an earlier one still in flight waits until that one completes. Two overlapping writes are
/// then never on the disk at once, so the disk ends with the later sequence number, and a
/// secondary applying in sequence order ends the same.
/// </summary>
internal sealed class OverlapTracker
{
    private readonly List<Entry> _active = new(64);

    public int Count => _active.Count;

    /// <summary>Tracks a data request; returns true when it may be issued now.</summary>
    public bool Add(long requestId, in BlockRequest request)
    {
        bool blocked = OverlapsEarlier(request.Offset, request.End, _active.Count);
        _active.Add(new Entry(requestId, request.Offset, request.End, !blocked));
        return !blocked;
    }

    /// <summary>
    /// Forgets a completed request and appends to <paramref name="ready"/> the waiting requests that
    /// no longer overlap anything earlier, marking them issued.
    /// </summary>
    public void Complete(long requestId, List<long> ready)
    {
        int index = IndexOf(requestId);
        if (index < 0)
        {
            return;
        }

        _active.RemoveAt(index);
        for (int i = 0; i < _active.Count; i++)
        {
            Entry entry = _active[i];
            if (!entry.Issued && !OverlapsEarlier(entry.Offset, entry.End, i))
            {
                _active[i] = entry with { Issued = true };
                ready.Add(entry.RequestId);
            }
        }
    }

    private int IndexOf(long requestId)
    {
        for (int i = 0; i < _active.Count; i++)
        {
            if (_active[i].RequestId == requestId)
            {
                return i;
            }
        }

        return -1;
    }

    private bool OverlapsEarlier(long offset, long end, int before)
    {
        for (int i = 0; i < before; i++)
        {
            Entry e = _active[i];
            if (e.Offset < end && offset < e.End)
            {
                return true;
            }
        }

        return false;
    }

    private readonly record struct Entry(long RequestId, long Offset, long End, bool Issued);
}
