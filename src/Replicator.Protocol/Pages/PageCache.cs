namespace Replicator.Protocol.Pages;

/// <summary>
/// The pages a link's two ends both hold: the last contents each index was sent with, the least
/// recently sent evicted when full. Both ends make the same calls in the same order — one
/// <see cref="Keep"/> per page, in the order the checkpoints carry them — so both caches always hold
/// the same pages, and a page can be sent as its difference from the one cached. A new link starts
/// with an empty cache on both ends. The cache keeps pages of one size, the first one kept (the
/// guest's page size; pages of other sizes are sent on their own), at most
/// <see cref="CheckpointPageDecoder.LargestPageBytes"/>.
/// </summary>
public sealed class PageCache
{
    // Slots are kept in arrays of up to this many bytes, each below the large object heap's
    // threshold and allocated only when the cache grows into it: a link that carries few pages costs little.
    private const int ChunkBytes = 60 * 1024;

    private const int None = -1;

    private readonly long _capacityBytes;
    private readonly Dictionary<long, int> _slotOf = new();
    private readonly List<byte[]> _chunks = new();
    private readonly List<long> _indexOf = new();
    private readonly List<int> _newer = new();
    private readonly List<int> _older = new();

    // Most and least recently put slots.
    private int _newest = None;
    private int _oldest = None;

    private int _slotsPerChunk;

    public PageCache(long capacityBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacityBytes);
        _capacityBytes = capacityBytes;
    }

    /// <summary>The size of the pages kept: 0 until the first page is kept.</summary>
    public int PageBytes { get; private set; }

    /// <summary>How many pages the cache holds at most (0 until <see cref="PageBytes"/> is known).</summary>
    public int Capacity { get; private set; }

    public int Count => _slotOf.Count;

    /// <summary>The cached contents of page <paramref name="index"/>, if it is cached at <paramref name="length"/> bytes.</summary>
    public bool TryGet(long index, int length, out ReadOnlySpan<byte> contents)
    {
        if (length == PageBytes && _slotOf.TryGetValue(index, out int slot))
        {
            contents = Slot(slot);
            return true;
        }

        contents = default;
        return false;
    }

    /// <summary>
    /// Page <paramref name="index"/> was sent with <paramref name="contents"/>: cached as the most
    /// recent if it has the cache's page size (the first page kept sets it), else whatever was cached
    /// of it is dropped, being stale.
    /// </summary>
    public void Keep(long index, ReadOnlySpan<byte> contents)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        if (PageBytes == 0 && contents.Length is > 0 and <= CheckpointPageDecoder.LargestPageBytes)
        {
            PageBytes = contents.Length;
            Capacity = (int)Math.Min(_capacityBytes / PageBytes, int.MaxValue);
            _slotsPerChunk = Math.Max(1, ChunkBytes / PageBytes);
        }

        if (contents.Length != PageBytes)
        {
            Remove(index);
            return;
        }

        if (Capacity == 0)
        {
            return;
        }

        if (_slotOf.TryGetValue(index, out int slot))
        {
            Unlink(slot);
        }
        else if (_indexOf.Count < Capacity)
        {
            slot = _indexOf.Count;
            if (slot / _slotsPerChunk == _chunks.Count)
            {
                _chunks.Add(GC.AllocateUninitializedArray<byte>(_slotsPerChunk * PageBytes));
            }

            _indexOf.Add(index);
            _newer.Add(None);
            _older.Add(None);
            _slotOf.Add(index, slot);
        }
        else
        {
            slot = _oldest;
            Unlink(slot);
            _slotOf.Remove(_indexOf[slot]);
            _indexOf[slot] = index;
            _slotOf.Add(index, slot);
        }

        contents.CopyTo(Slot(slot));
        LinkNewest(slot);
    }

    private void Remove(long index)
    {
        if (!_slotOf.Remove(index, out int slot))
        {
            return;
        }

        // The slot goes to the oldest end, first to be reused; its index no longer names it.
        Unlink(slot);
        _indexOf[slot] = long.MinValue;
        _older[slot] = None;
        _newer[slot] = _oldest;
        if (_oldest != None)
        {
            _older[_oldest] = slot;
        }

        _oldest = slot;
        _newest = _newest == None ? slot : _newest;
    }

    private Span<byte> Slot(int slot) => _chunks[slot / _slotsPerChunk].AsSpan(slot % _slotsPerChunk * PageBytes, PageBytes);

    private void Unlink(int slot)
    {
        int newer = _newer[slot];
        int older = _older[slot];
        if (newer != None)
        {
            _older[newer] = older;
        }
        else
        {
            _newest = older;
        }

        if (older != None)
        {
            _newer[older] = newer;
        }
        else
        {
            _oldest = newer;
        }
    }

    private void LinkNewest(int slot)
    {
        _newer[slot] = None;
        _older[slot] = _newest;
        if (_newest != None)
        {
            _newer[_newest] = slot;
        }

        _newest = slot;
        _oldest = _oldest == None ? slot : _oldest;
    }
}
