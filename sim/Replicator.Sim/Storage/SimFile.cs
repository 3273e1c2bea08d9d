using Replicator.Core.Blocks;

namespace Replicator.Sim.Storage;

/// <summary>
/// The bytes of one simulated file, with a volatile write cache as design notes §2 describe: a
/// write is visible at once, durable only once a later flush completes. A power cut keeps, sector
/// by sector, the durable contents or any version cached since; the length keeps its durable value
/// or the newer one. Writes may be of any length at any offset: the journal's are not sector-aligned.
/// </summary>
internal sealed class SimFile(long size)
{
    /// <summary>A file holding <paramref name="initial"/>, all of it durable.</summary>
    public SimFile(ReadOnlySpan<byte> initial)
        : this(initial.Length)
    {
        initial.CopyTo(_visible);
        initial.CopyTo(_durable);
    }

    private const int Sector = BlockGeometry.SectorSize;

    // Whole sectors always: the cache works sector by sector, and the last one may be partial.
    private byte[] _visible = new byte[RoundUp(size)];
    private byte[] _durable = new byte[RoundUp(size)];
    private long _durableSize = size;

    // Per sector not yet durable: every version written since it was last durable, oldest first.
    private readonly Dictionary<long, List<byte[]>> _cached = new();

    public long Size { get; private set; } = size;

    /// <summary>What a reader sees now.</summary>
    public ReadOnlySpan<byte> Contents => _visible.AsSpan(0, (int)Size);

    public void Read(long offset, Span<byte> destination)
    {
        if (offset < 0 || offset + destination.Length > Size)
        {
            throw new IOException($"read of {destination.Length} bytes at {offset} past the end ({Size} bytes)");
        }

        _visible.AsSpan((int)offset, destination.Length).CopyTo(destination);
    }

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        if (offset + data.Length > Size)
        {
            SetSize(offset + data.Length);
        }

        data.CopyTo(_visible.AsSpan((int)offset));
        for (long sector = offset / Sector; sector * Sector < offset + data.Length; sector++)
        {
            if (!_cached.TryGetValue(sector, out List<byte[]>? versions))
            {
                versions = new List<byte[]>(2);
                _cached.Add(sector, versions);
            }

            versions.Add(SectorOf(_visible, sector).ToArray());
        }
    }

    public void SetSize(long size)
    {
        if (size > _visible.Length)
        {
            Array.Resize(ref _visible, (int)RoundUp(Math.Max(size, 2L * _visible.Length)));
            Array.Resize(ref _durable, _visible.Length);
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
        foreach ((long sector, List<byte[]> versions) in _cached.OrderBy(kv => kv.Key))
        {
            int pick = random.Next(versions.Count + 1);
            if (pick < versions.Count)
            {
                versions[pick].CopyTo(SectorOf(_durable, sector));
            }
        }

        _cached.Clear();
        long size = Size != _durableSize && random.Next(2) == 0 ? Size : _durableSize;
        _durable.AsSpan((int)Math.Min(size, _durable.Length)).Clear();
        _durable.CopyTo(_visible, 0);
        Size = size;
        _durableSize = size;
    }

    private static long RoundUp(long size) => (size + Sector - 1) / Sector * Sector;

    private static Span<byte> SectorOf(byte[] bytes, long sector) => bytes.AsSpan((int)(sector * Sector), Sector);
}
