using Replicator.Core.Blocks;

namespace Replicator.InMemory;

/// <summary>
/// A disk in RAM with a volatile write cache, per design notes §2: a completed write is visible at
/// once but durable only after a later flush completes (a FUA write alone is durable when it
/// completes). <see cref="PowerCut"/> keeps, sector by sector, the durable contents or any of the
/// cached versions written since: a legal crash state, torn at sector granularity.
/// </summary>
public sealed class MemoryDisk
{
    private const int Sector = BlockGeometry.SectorSize;

    private readonly byte[] _visible;
    private readonly byte[] _durable;

    // Per sector not yet durable: every version written since it was last durable, oldest first.
    private readonly Dictionary<long, List<byte[]>> _cached = new();

    public MemoryDisk(long sizeBytes, ReadOnlySpan<byte> initial = default)
    {
        if (sizeBytes <= 0 || sizeBytes % Sector != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), sizeBytes, $"size must be a positive multiple of {Sector}");
        }

        _visible = new byte[sizeBytes];
        initial.CopyTo(_visible);
        _durable = _visible.ToArray();
    }

    public long Size => _visible.Length;

    /// <summary>What a reader sees now.</summary>
    public ReadOnlySpan<byte> Contents => _visible;

    public void Read(long offset, Span<byte> destination)
    {
        CheckRange(offset, destination.Length);
        _visible.AsSpan((int)offset, destination.Length).CopyTo(destination);
    }

    public void Write(long offset, ReadOnlySpan<byte> data, bool fua)
    {
        CheckRange(offset, data.Length);
        data.CopyTo(_visible.AsSpan((int)offset));
        for (int at = 0; at < data.Length; at += Sector)
        {
            long sector = (offset + at) / Sector;
            ReadOnlySpan<byte> contents = data.Slice(at, Sector);
            if (fua)
            {
                // Durable now; older cached versions of the sector are superseded.
                contents.CopyTo(_durable.AsSpan((int)(sector * Sector)));
                _cached.Remove(sector);
            }
            else
            {
                if (!_cached.TryGetValue(sector, out List<byte[]>? versions))
                {
                    versions = new List<byte[]>(2);
                    _cached.Add(sector, versions);
                }

                versions.Add(contents.ToArray());
            }
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

    public void Flush()
    {
        foreach (long sector in _cached.Keys)
        {
            _visible.AsSpan((int)(sector * Sector), Sector).CopyTo(_durable.AsSpan((int)(sector * Sector)));
        }

        _cached.Clear();
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
                versions[pick].CopyTo(_durable.AsSpan((int)(sector * Sector)));
            }
        }

        _cached.Clear();
        _durable.CopyTo(_visible, 0);
    }

    private void CheckRange(long offset, int length)
    {
        if (offset < 0 || length < 0 || offset + length > _visible.Length || offset % Sector != 0 || length % Sector != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"range {offset}+{length} is not a sector-aligned range of a {_visible.Length}-byte disk");
        }
    }
}
