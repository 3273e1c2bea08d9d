using System.IO.Hashing;
using Replicator.Core.Blocks;

namespace Replicator.InMemory;

/// <summary>
/// The history of writes, flushes and FUA writes a disk was given, and the crash-state rule of
/// design notes §2 over it: an image is a legal crash state when, for some crash point, every
/// sector holds either the last version that was durable by then or a version written after it
/// and before the crash point. A write whose completion was never seen (it failed, or the power
/// went while it was under way) never becomes durable by that rule: each of its sectors may hold
/// it or not, whatever flushes follow.
/// </summary>
public sealed class CrashHistory
{
    private const int Sector = BlockGeometry.SectorSize;

    private readonly byte[] _initial;
    private readonly List<Entry> _entries = new();
    private readonly Dictionary<long, List<Version>> _versions = new();

    public CrashHistory(ReadOnlySpan<byte> initial) => _initial = initial.ToArray();

    public int Count => _entries.Count;

    public void Write(long offset, ReadOnlySpan<byte> data, bool fua) => Add(offset, data, fua, completed: true);

    /// <summary>
    /// A write issued whose completion was never seen: it failed (a device that reports an error
    /// may have taken any of its sectors into its cache — a FUA write is a write, then a flush, and
    /// only the flush may have failed), or the power went while it was under way. §2 makes a write
    /// durable only by a flush issued after it completed, and this one never did: at every later
    /// crash point each of its sectors may hold it or what the sector would hold without it.
    /// </summary>
    public void UncompletedWrite(long offset, ReadOnlySpan<byte> data) => Add(offset, data, fua: false, completed: false);

    private void Add(long offset, ReadOnlySpan<byte> data, bool fua, bool completed)
    {
        int index = _entries.Count;
        _entries.Add(new Entry(IsFlush: false));
        for (int at = 0; at < data.Length; at += Sector)
        {
            long sector = (offset + at) / Sector;
            if (!_versions.TryGetValue(sector, out List<Version>? list))
            {
                list = new List<Version>();
                _versions.Add(sector, list);
            }

            list.Add(new Version(index, fua, completed, XxHash3.HashToUInt64(data.Slice(at, Sector))));
        }
    }

    public void Flush() => _entries.Add(new Entry(IsFlush: true));

    /// <summary>
    /// One request as the disk was given it; <paramref name="completed"/> false when its completion
    /// was never seen (see <see cref="UncompletedWrite"/>; a flush that did not complete made nothing durable).
    /// </summary>
    public void Record(in BlockRequest request, ReadOnlySpan<byte> payload, bool completed = true)
    {
        switch (request.Op)
        {
            case BlockOp.Write:
                Add(request.Offset, payload, request.Fua, completed);
                break;
            case BlockOp.WriteZeroes or BlockOp.Trim:
                Add(request.Offset, new byte[request.Length], request.Fua, completed);
                break;
            case BlockOp.Flush when completed:
                Flush();
                break;
        }
    }

    /// <summary>Null when <paramref name="image"/> is a legal crash state of this history; otherwise why not.</summary>
    public string? CheckLegal(ReadOnlySpan<byte> image)
    {
        if (image.Length != _initial.Length)
        {
            return $"image is {image.Length} bytes, the disk {_initial.Length}";
        }

        // Sectors never written must hold their initial contents at any crash point.
        long sectors = _initial.Length / Sector;
        for (long s = 0; s < sectors; s++)
        {
            if (!_versions.ContainsKey(s) && !image.Slice((int)(s * Sector), Sector).SequenceEqual(_initial.AsSpan((int)(s * Sector), Sector)))
            {
                return $"sector {s} was never written but differs from its initial contents";
            }
        }

        int[] flushIndexes = _entries.Select((e, i) => (e, i)).Where(x => x.e.IsFlush).Select(x => x.i).ToArray();
        string? firstFailure = null;
        for (int crashPoint = _entries.Count; crashPoint >= 0; crashPoint--)
        {
            string? failure = CheckAt(crashPoint, image, flushIndexes);
            if (failure is null)
            {
                return null;
            }

            firstFailure ??= failure;
        }

        return $"no crash point explains the image; at the end of the history: {firstFailure}";
    }

    private string? CheckAt(int crashPoint, ReadOnlySpan<byte> image, int[] flushIndexes)
    {
        foreach ((long sector, List<Version> versions) in _versions)
        {
            ulong actual = XxHash3.HashToUInt64(image.Slice((int)(sector * Sector), Sector));

            // The last version durable by the crash point: a write that completed, FUA or followed
            // by a flush before it. One that never completed is never the floor, only a candidate.
            int durable = -1;
            for (int v = 0; v < versions.Count && versions[v].Index < crashPoint; v++)
            {
                if (versions[v].Completed && (versions[v].Fua || HasFlushBetween(flushIndexes, versions[v].Index, crashPoint)))
                {
                    durable = v;
                }
            }

            bool legal = durable < 0 && actual == XxHash3.HashToUInt64(_initial.AsSpan((int)(sector * Sector), Sector));
            for (int v = Math.Max(durable, 0); !legal && v < versions.Count && versions[v].Index < crashPoint; v++)
            {
                legal = versions[v].Hash == actual;
            }

            if (!legal)
            {
                return $"sector {sector} holds contents that cannot survive a crash at history entry {crashPoint}";
            }
        }

        return null;
    }

    private static bool HasFlushBetween(int[] flushIndexes, int after, int before)
    {
        int i = Array.BinarySearch(flushIndexes, after + 1);
        if (i < 0)
        {
            i = ~i;
        }

        return i < flushIndexes.Length && flushIndexes[i] < before;
    }

    private readonly record struct Entry(bool IsFlush);

    private readonly record struct Version(int Index, bool Fua, bool Completed, ulong Hash);
}
