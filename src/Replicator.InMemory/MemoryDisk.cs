using Replicator.Core.Blocks;

namespace Replicator.InMemory;

/// <summary>
/// A disk (or file) in RAM with a volatile write cache, per design notes §2: a completed write is
/// visible at once but durable only after a later flush completes (a FUA write alone is durable when
/// it completes). <see cref="PowerCut"/> keeps, sector by sector, the durable contents or any of the
/// cached versions written since: a legal crash state, torn at sector granularity. Writes may cover
/// any byte range (a file's records are not sector-aligned); a growable one (a file) extends on a
/// write past its end or <see cref="SetSize"/>, and after a power cut its length is the durable one
/// or the newer one.
/// </summary>
public sealed class MemoryDisk
{
    private const int Sector = BlockGeometry.SectorSize;

    private readonly bool _growable;

    // Whole sectors always: the cache works sector by sector, and a file's last one may be partial.
    private byte[] _visible;
    private byte[] _durable;
    private long _durableSize;

    // Per sector not yet durable: every version written since it was last durable, oldest first.
    private readonly Dictionary<long, List<byte[]>> _cached = new();

    /// <summary>A disk of fixed size, a positive multiple of the sector, holding <paramref name="initial"/> durably.</summary>
    public MemoryDisk(long sizeBytes, ReadOnlySpan<byte> initial = default)
        : this(sizeBytes, growable: false)
    {
        if (sizeBytes <= 0 || sizeBytes % Sector != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), sizeBytes, $"size must be a positive multiple of {Sector}");
        }

        initial.CopyTo(_visible);
        initial.CopyTo(_durable);
    }

    private MemoryDisk(long sizeBytes, bool growable)
    {
        _growable = growable;
        _visible = new byte[RoundUp(sizeBytes)];
        _durable = new byte[_visible.Length];
        Size = sizeBytes;
        _durableSize = sizeBytes;
    }

    public long Size { get; private set; }

    /// <summary>What a reader sees now.</summary>
    public ReadOnlySpan<byte> Contents => _visible.AsSpan(0, (int)Size);

    /// <summary>A file of any length (zero included) that grows as it is written, durable as created.</summary>
    public static MemoryDisk File(long sizeBytes = 0) => new(sizeBytes, growable: true);

    public void Read(long offset, Span<byte> destination)
    {
        CheckRange(offset, destination.Length);
        _visible.AsSpan((int)offset, destination.Length).CopyTo(destination);
    }

    public void Write(long offset, ReadOnlySpan<byte> data, bool fua)
    {
        if (_growable && offset >= 0 && offset + data.Length > Size)
        {
            SetSize(offset + data.Length);
        }

        CheckRange(offset, data.Length);
        data.CopyTo(_visible.AsSpan((int)offset));
        for (long sector = offset / Sector; sector * Sector < offset + data.Length; sector++)
        {
            if (fua)
            {
                // Durable now; older cached versions of the sector are superseded.
                SectorOf(_visible, sector).CopyTo(SectorOf(_durable, sector));
                _cached.Remove(sector);
                continue;
            }

            if (!_cached.TryGetValue(sector, out List<byte[]>? versions))
            {
                versions = new List<byte[]>(2);
                _cached.Add(sector, versions);
            }

            versions.Add(SectorOf(_visible, sector).ToArray());
        }
    }

    public void WriteZeroes(long offset, int length, bool fua) => Write(offset, new byte[length], fua);

    public void Apply(in BlockRequest request, ReadOnlySpan<byte> payload)
    {
        switch (request.Op)
        {
            case BlockOp.Write:
                Write(request.Offset, payload, request.Fua);
                break;
            case BlockOp.WriteZeroes or BlockOp.Trim:
                WriteZeroes(request.Offset, request.Length, request.Fua);
                break;
            case BlockOp.Flush:
                Flush();
                break;
        }
    }

    /// <summary>Cuts or extends a growable disk; the new length is durable with the next flush.</summary>
    public void SetSize(long size)
    {
        if (!_growable)
        {
            throw new InvalidOperationException($"a {Size}-byte disk of fixed size is never resized");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(size);
        if (size > _visible.Length)
        {
            int capacity = (int)RoundUp(Math.Max(size, 2L * _visible.Length));
            Array.Resize(ref _visible, capacity);
            Array.Resize(ref _durable, capacity);
        }

        if (size < Size)
        {
            _visible.AsSpan((int)size, (int)(Size - size)).Clear();
        }

        Size = size;
    }

    public void Flush()
    {
        foreach (long sector in _cached.Keys)
        {
            SectorOf(_visible, sector).CopyTo(SectorOf(_durable, sector));
        }

        _cached.Clear();
        _durableSize = Size;
    }

    /// <summary>Loses the cache: each cached sector ends as its durable contents or one of its cached versions, at random.</summary>
    public void PowerCut(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        foreach ((long sector, List<byte[]> versions) in _cached.OrderBy(kv => kv.Key))
        {
            int pick = random.Next(versions.Count + 1);
            if (pick < versions.Count)
            {
                versions[pick].CopyTo(SectorOf(_durable, sector));
            }
        }

        _cached.Clear();
        if (Size != _durableSize && random.Next(2) == 0)
        {
            _durableSize = Size;
        }

        // Past the length that survived, nothing is left.
        _durable.AsSpan((int)Math.Min(_durableSize, _durable.Length)).Clear();
        _durable.CopyTo(_visible, 0);
        Size = _durableSize;
    }

    private static long RoundUp(long size) => (size + Sector - 1) / Sector * Sector;

    private static Span<byte> SectorOf(byte[] bytes, long sector) => bytes.AsSpan((int)(sector * Sector), Sector);

    private void CheckRange(long offset, int length)
    {
        if (offset < 0 || length < 0 || offset + length > Size)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"range {offset}+{length} lies outside a {Size}-byte disk");
        }
    }
}
