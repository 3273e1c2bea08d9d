using System.Security.Cryptography;
using Replicator.Core.Blocks;
using Replicator.Core.Primary;
using Replicator.Core.Storage;
using Replicator.Core.Testing;
using Replicator.Hosts.Storage;

namespace Replicator.Hosts.Primary;

/// <summary>
/// The primary's persistent dirty tracking: a bitmap of regions its secondary may lack, and an
/// activity log of "hot" extents that may be written at any moment. A guest write into a hot extent
/// goes straight to the disk; one into a cold extent waits until a header naming that extent is
/// durable. An extent leaves the activity log only after its regions' bits are durable in the
/// bitmap; a bit is cleared only once its region is acknowledged by the secondary and flushed on the
/// primary's own disk. So after a crash the bitmap plus the active extents name every region that
/// may differ — at most the hot set more than needed, never a region less.
/// </summary>
/// <remarks>
/// Sans-I/O like its host: it builds <see cref="DirtyLogOperation"/>s, one at a time, for the shell
/// to run, and hears back through <see cref="OnOperationDone"/>. Only the start (loading and
/// re-opening the log) reads and writes the file directly, before anything else runs.
/// </remarks>
public sealed class DirtyTracker : IDisposable
{
    private readonly DirtyLogFile _file;
    private readonly DirtyLogGeometry _geometry;
    private readonly int _capacity;
    private readonly ulong _logId;
    private readonly PlantedBug _plant;

    // The bitmap as the log holds it once the operation in flight has landed: byte r / 8, bit r % 8
    // (a sector's bits follow the previous sector's without a gap).
    private readonly byte[] _bitmap;
    private readonly ExtentState[] _extents;
    private readonly int[] _slotOfExtent;
    private readonly long[] _extentInSlot;
    private readonly bool[] _referenced;
    private readonly int[] _stamps;
    private readonly bool[] _sectorChanged;
    private readonly List<int> _changedSectors = new();
    private readonly List<Held> _held = new();
    private readonly List<Held> _issuable = new();
    private readonly List<long> _adding = new();
    private readonly List<long> _evicting = new();
    private DirtyLogOperation? _inFlight;
    private PrimaryEngine? _engine;
    private long _transaction;
    private long _nextOperation;
    private int _stamp;
    private int _hand;
    private int _hotCount;
    private long _setBits;
    private bool _cleanWanted;
    private bool _closeWanted;
    private ulong? _lineageWanted;
    private (long Epoch, ulong Lineage, bool Closes)? _cleaning;

    private DirtyTracker(DirtyLogFile file, DirtyLogGeometry geometry, int capacity, ulong logId, long transaction, long acknowledgedEpoch, ulong lineage, byte[] bitmap, PlantedBug plant)
    {
        _plant = plant;
        _file = file;
        _geometry = geometry;
        _capacity = capacity;
        _logId = logId;
        _transaction = transaction;
        DurableAcknowledgedEpoch = acknowledgedEpoch;
        Lineage = lineage;
        _bitmap = bitmap;
        _extents = new ExtentState[geometry.ExtentCount];
        _slotOfExtent = new int[geometry.ExtentCount];
        _stamps = new int[geometry.ExtentCount];
        Array.Fill(_slotOfExtent, -1);
        _extentInSlot = new long[capacity];
        Array.Fill(_extentInSlot, -1L);
        _referenced = new bool[capacity];
        _sectorChanged = new bool[geometry.SectorCount];
        foreach (byte b in bitmap)
        {
            _setBits += System.Numerics.BitOperations.PopCount(b);
        }
    }

    private enum ExtentState : byte
    {
        Cold,
        Adding,
        Hot,
        Evicting,
    }

    /// <summary>The log's id, as the state record must name it for the log to be trusted at the next start.</summary>
    public ulong LogId => _logId;

    /// <summary>Why the log can no longer be written (the tracker then holds nothing back), or null.</summary>
    public string? Failure { get; private set; }

    /// <summary>The secondary checkpoint the durable bitmap is complete against.</summary>
    public long DurableAcknowledgedEpoch { get; private set; }

    /// <summary>The data generation (its id) of the secondary that checkpoint belongs to; 0 when none.</summary>
    public ulong Lineage { get; private set; }

    /// <summary>Extents now hot (for status and tests).</summary>
    public int HotExtents => _hotCount;

    /// <summary>Regions the bitmap now names.</summary>
    public long DirtyRegions => _setBits;

    /// <summary>Guest writes waiting for a header that names their extents.</summary>
    public int HeldWrites => _held.Count;

    /// <summary>The last header said the primary stopped cleanly, and nothing was written since.</summary>
    public bool IsClosed { get; private set; }

    /// <summary>
    /// Opens the log in <paramref name="directory"/> at a primary's start. A log that the state
    /// record names (<paramref name="trustedLogId"/>), of this geometry and intact, gives back what a
    /// secondary may lack (<see cref="DirtyLogStart.Restored"/>); any other is replaced by a new one
    /// (the reason in <see cref="DirtyLogStart.NotRestoredBecause"/>). Either way the log is then
    /// marked in use, durably, before this returns. Throws <see cref="InvalidDataException"/> naming
    /// the file when it is damaged (nothing is changed), <see cref="IOException"/> when it cannot be written.
    /// </summary>
    /// <remarks>
    /// <paramref name="countFrom"/>: a node that just took over starts a new log whatever is there,
    /// complete against the checkpoint it took over from (empty: its image is that checkpoint), so
    /// that a former primary of that generation can be synced from the changes alone.
    /// </remarks>
    public static DirtyLogStart Open(IStorageDirectory directory, DirtyLogGeometry geometry, int capacity, ulong trustedLogId, PlantedBug plant = PlantedBug.None, TakeoverPoint? countFrom = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (geometry.Problem() is { } problem)
        {
            throw new ArgumentException($"the dirty log cannot track this image: {problem}", nameof(geometry));
        }

        if (capacity < 2 || capacity > DirtyLogFile.MaxActiveExtents)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"the activity log holds 2 to {DirtyLogFile.MaxActiveExtents} extents");
        }

        // A node that took over keeps nothing of a log it may have kept before: it is not even read.
        DirtyLogFile? file = countFrom is null ? DirtyLogFile.Open(directory) : null;
        string? untrusted;
        DirtyLogContents? contents = null;
        if (countFrom is not null)
        {
            untrusted = "this node took over: its log begins at the checkpoint it took over from";
        }
        else if (file is null)
        {
            untrusted = "there is no dirty log yet";
        }
        else
        {
            try
            {
                contents = file.Load();
            }
            catch
            {
                file.Dispose();
                throw;
            }

            untrusted = contents.WhyNotTrusted(trustedLogId, geometry, geometry.DiskBytes);
        }

        if (untrusted is not null)
        {
            file?.Dispose();
            ulong logId = NewLogId();
            DirtyLogFile created = DirtyLogFile.Create(directory, geometry, logId);
            long epoch = countFrom?.Epoch ?? 0;
            ulong lineage = (ulong)(countFrom?.Generation ?? 0);
            var fresh = new DirtyTracker(created, geometry, capacity, logId, 0, epoch, lineage, new byte[(long)geometry.SectorCount * DirtyLogGeometry.BitmapBytesPerSector], plant);
            fresh.OpenDurably();
            return countFrom is null
                ? new DirtyLogStart(fresh, null, untrusted)
                : new DirtyLogStart(fresh, new RestoredDirtyLog(epoch, lineage, [], AfterCrash: false), null);
        }

        DirtyLogHeader header = contents!.Header!;
        var tracker = new DirtyTracker(file!, geometry, capacity, header.LogId, header.Transaction, header.AcknowledgedEpoch, header.AcknowledgedGeneration, contents.Bitmap, plant);
        if (header.InUse && plant != PlantedBug.DirtyLogForgetsHotExtents)
        {
            // The primary did not stop cleanly: its active extents may hold writes the bitmap never saw.
            foreach (long extent in header.ActiveExtents)
            {
                if (extent < geometry.ExtentCount)
                {
                    tracker.SetExtentBits(extent);
                }
            }
        }

        tracker.OpenDurably();
        return new DirtyLogStart(tracker, new RestoredDirtyLog(header.AcknowledgedEpoch, header.AcknowledgedGeneration, tracker.SetRegions(), header.InUse), null);
    }

    /// <summary>The engine whose map says which regions a secondary may lack.</summary>
    public void Attach(PrimaryEngine engine) => _engine = engine;

    /// <summary>
    /// A request the engine issues to the primary's disk: true when it may go now (it changes no
    /// data, or every extent it touches is hot); otherwise it is held until a header names them.
    /// No allocation on the way through.
    /// </summary>
    public bool TryIssue(long requestId, in BlockRequest request, ReadOnlyMemory<byte> payload)
    {
        if (Failure is not null || !request.ChangesData)
        {
            return true;
        }

        (long first, long last) = ExtentsOf(request);
        bool hot = true;
        for (long e = first; e <= last; e++)
        {
            if (_extents[e] == ExtentState.Hot)
            {
                _referenced[_slotOfExtent[e]] = true;
            }
            else
            {
                hot = false;
            }
        }

        if (!hot)
        {
            _held.Add(new Held(requestId, request, payload, 0));
        }

        return hot;
    }

    /// <summary>The pair is protected again (or started known equal): the secondary now holds this generation, as the log must say.</summary>
    public void RecordLineage(ulong generationId) => _lineageWanted = generationId;

    /// <summary>A whole-image sync began: until it completes no secondary is the one the log speaks of.</summary>
    public void ForgetLineage() => _lineageWanted = 0;

    /// <summary>Periodically: once the secondary acknowledged more, bits of regions it now holds are cleared (after an image flush).</summary>
    public void OnTick()
    {
        if (_engine is { } engine && _setBits > 0 && engine.LastAcknowledgedEpoch > DurableAcknowledgedEpoch)
        {
            _cleanWanted = true;
        }
    }

    /// <summary>A clean stop: everything the active extents hold goes into the bitmap and the log says it is no longer in use.</summary>
    public void Close() => _closeWanted = true;

    /// <summary>The next operation to run, or null when one is running or there is nothing to do.</summary>
    public DirtyLogOperation? NextOperation()
    {
        if (_inFlight is not null || Failure is not null)
        {
            return null;
        }

        _inFlight = BuildActivity() ?? BuildCleaning();
        return _inFlight;
    }

    /// <summary>
    /// The shell ran operation <paramref name="operationId"/> (or it failed: <paramref name="failure"/>).
    /// Returns the held writes that may go to the disk now; the list is reused by the next call.
    /// </summary>
    public IReadOnlyList<Held> OnOperationDone(long operationId, string? failure)
    {
        _issuable.Clear();
        if (_inFlight is null || _inFlight.Id != operationId)
        {
            throw new InvalidOperationException($"dirty-log operation {operationId} reported done, but it is not the one in flight");
        }

        _inFlight = null;
        if (failure is not null)
        {
            Failure = failure;
            _issuable.AddRange(_held);
            _held.Clear();
            return _issuable;
        }

        foreach (long victim in _evicting)
        {
            int slot = _slotOfExtent[victim];
            _extentInSlot[slot] = -1;
            _slotOfExtent[victim] = -1;
            _extents[victim] = ExtentState.Cold;
            _hotCount--;
        }

        int free = 0;
        foreach (long added in _adding)
        {
            while (_extentInSlot[free] >= 0)
            {
                free++;
            }

            _extentInSlot[free] = added;
            _slotOfExtent[added] = free;
            _referenced[free] = true;
            _extents[added] = ExtentState.Hot;
            _hotCount++;
        }

        _evicting.Clear();
        _adding.Clear();
        if (_cleaning is { } cleaning)
        {
            _cleaning = null;
            DurableAcknowledgedEpoch = cleaning.Epoch;
            Lineage = cleaning.Lineage;
            IsClosed = cleaning.Closes;
        }
        else
        {
            IsClosed = false; // a header in use went out: writes came after the close
        }

        for (int i = 0; i < _held.Count; i++)
        {
            Held held = _held[i];
            if (held.DirectIn == operationId || AllHot(held.Request))
            {
                _issuable.Add(held);
                _held.RemoveAt(i--);
            }
        }

        return _issuable;
    }

    public void Dispose() => _file.Dispose();

    private static ulong NewLogId()
    {
        ulong id;
        do
        {
            id = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(sizeof(ulong)));
        }
        while (id == 0);
        return id;
    }

    /// <summary>At start: every bitmap sector the restore changed, then a header in use with no active extent.</summary>
    private void OpenDurably()
    {
        foreach (int sector in _changedSectors)
        {
            _file.WriteSector(_logId, sector, SectorBits(sector));
            _sectorChanged[sector] = false;
        }

        _changedSectors.Clear();
        _file.Flush();
        _file.WriteHeader(Header(inUse: true, DurableAcknowledgedEpoch, Lineage, []));
        _file.Flush();
    }

    /// <summary>Extents for the oldest held writes (evicting the least recently used to make room), or bits set directly for a write too wide for the log.</summary>
    private DirtyLogOperation? BuildActivity()
    {
        if (_held.Count == 0)
        {
            return null;
        }

        _stamp++;
        foreach (Held held in _held)
        {
            (long first, long last) = ExtentsOf(held.Request);
            for (long e = first; e <= last; e++)
            {
                _stamps[e] = _stamp;
            }
        }

        var operation = new DirtyLogOperation(++_nextOperation, _file, _logId);
        int room = _capacity - _hotCount;
        bool direct = false;
        for (int i = 0; i < _held.Count; i++)
        {
            Held held = _held[i];
            (long first, long last) = ExtentsOf(held.Request);
            int missing = 0;
            for (long e = first; e <= last; e++)
            {
                missing += _extents[e] == ExtentState.Cold ? 1 : 0;
            }

            if (missing == 0)
            {
                continue;
            }

            while (missing <= _capacity / 2 && room < missing && TryPickVictim(out long victim))
            {
                _extents[victim] = ExtentState.Evicting;
                _evicting.Add(victim);
                room++;
            }

            if (missing > _capacity / 2 || room < missing)
            {
                // Too wide for the activity log (a large trim, say), or no room left now: the
                // write's own regions go into the bitmap instead, which always has room.
                SetRegionBits(held.Request.Offset, held.Request.Length);
                _held[i] = held with { DirectIn = operation.Id };
                direct = true;
                continue;
            }

            for (long e = first; e <= last; e++)
            {
                if (_extents[e] == ExtentState.Cold)
                {
                    _extents[e] = ExtentState.Adding;
                    _adding.Add(e);
                }
            }

            room -= missing;
        }

        if (_adding.Count == 0 && _evicting.Count == 0 && !direct)
        {
            return null;
        }

        // An extent leaves the log only once the bitmap says what it holds.
        foreach (long victim in _evicting)
        {
            RecomputeExtentBits(victim, DurableAcknowledgedEpoch);
        }

        operation.WriteSectors(TakeChangedSectors());
        operation.WriteHeader(Header(inUse: true, DurableAcknowledgedEpoch, Lineage, ActiveAfter()));
        return operation;
    }

    /// <summary>
    /// Clearing what the secondary now holds: the primary's image is flushed first (what it
    /// acknowledged must be durable here too), the header then records the new checkpoint, and only
    /// then are bits cleared against it. A clean stop also empties the activity log into the bitmap.
    /// </summary>
    private DirtyLogOperation? BuildCleaning()
    {
        if (!_cleanWanted && _lineageWanted is null && !_closeWanted)
        {
            return null;
        }

        long acknowledged = Math.Max(DurableAcknowledgedEpoch, _engine?.LastAcknowledgedEpoch ?? 0);
        ulong lineage = _lineageWanted ?? Lineage;
        bool closes = _closeWanted;
        _cleanWanted = false;
        _lineageWanted = null;
        _closeWanted = false;

        var operation = new DirtyLogOperation(++_nextOperation, _file, _logId);
        if (_plant != PlantedBug.DirtyLogClearsUnflushed)
        {
            operation.FlushImage();
        }

        List<long> active = ActiveAfter();
        operation.WriteHeader(Header(inUse: true, acknowledged, lineage, active));
        if (_engine is not null)
        {
            ClearHeldRegions(acknowledged);
            if (closes)
            {
                foreach (long extent in active)
                {
                    RecomputeExtentBits(extent, acknowledged);
                }
            }
        }

        operation.WriteSectors(TakeChangedSectors());
        if (closes)
        {
            foreach (long extent in active)
            {
                _extents[extent] = ExtentState.Evicting;
                _evicting.Add(extent);
            }

            operation.WriteHeader(Header(inUse: false, acknowledged, lineage, []));
        }

        _cleaning = (acknowledged, lineage, closes);
        return operation;
    }

    private DirtyLogHeader Header(bool inUse, long acknowledged, ulong lineage, IReadOnlyList<long> active) =>
        new(++_transaction, _logId, _geometry, inUse, acknowledged, lineage, active);

    /// <summary>The extents hot once the operation being built lands.</summary>
    private List<long> ActiveAfter()
    {
        var active = new List<long>(_hotCount + _adding.Count);
        foreach (long extent in _extentInSlot)
        {
            if (extent >= 0 && _extents[extent] == ExtentState.Hot)
            {
                active.Add(extent);
            }
        }

        active.AddRange(_adding);
        return active;
    }

    /// <summary>Clock (second chance) over the hot extents no held write needs.</summary>
    private bool TryPickVictim(out long victim)
    {
        for (int step = 0; step < 2 * _capacity; step++)
        {
            int slot = _hand;
            _hand = (_hand + 1) % _capacity;
            long extent = _extentInSlot[slot];
            if (extent < 0 || _extents[extent] != ExtentState.Hot || _stamps[extent] == _stamp)
            {
                continue;
            }

            if (_referenced[slot])
            {
                _referenced[slot] = false;
                continue;
            }

            victim = extent;
            return true;
        }

        victim = -1;
        return false;
    }

    private bool AllHot(in BlockRequest request)
    {
        (long first, long last) = ExtentsOf(request);
        for (long e = first; e <= last; e++)
        {
            if (_extents[e] != ExtentState.Hot)
            {
                return false;
            }
        }

        return true;
    }

    private (long First, long Last) ExtentsOf(in BlockRequest request) =>
        (request.Offset / _geometry.ExtentBytes, (request.Offset + Math.Max(request.Length, 1) - 1) / _geometry.ExtentBytes);

    private (long First, long End) RegionsOfExtent(long extent)
    {
        long first = extent * _geometry.RegionsPerExtent;
        return (first, Math.Min(first + _geometry.RegionsPerExtent, _geometry.RegionCount));
    }

    private void SetExtentBits(long extent)
    {
        (long first, long end) = RegionsOfExtent(extent);
        for (long r = first; r < end; r++)
        {
            SetBit(r, true);
        }
    }

    private void SetRegionBits(long offset, long length)
    {
        long first = offset / _geometry.RegionBytes;
        long last = Math.Min((offset + Math.Max(length, 1) - 1) / _geometry.RegionBytes, _geometry.RegionCount - 1);
        for (long r = first; r <= last; r++)
        {
            SetBit(r, true);
        }
    }

    private void RecomputeExtentBits(long extent, long acknowledged)
    {
        (long first, long end) = RegionsOfExtent(extent);
        for (long r = first; r < end; r++)
        {
            SetBit(r, _engine?.MayLack(r, acknowledged) ?? true);
        }
    }

    /// <summary>Bits of regions the secondary holding <paramref name="acknowledged"/> no longer lacks are cleared.</summary>
    private void ClearHeldRegions(long acknowledged)
    {
        int i = 0;
        while (i < _bitmap.Length)
        {
            int skip = _bitmap.AsSpan(i).IndexOfAnyExcept((byte)0);
            if (skip < 0)
            {
                break;
            }

            i += skip;
            for (int bit = 0; bit < 8; bit++)
            {
                long region = ((long)i * 8) + bit;
                if ((_bitmap[i] & (1 << bit)) != 0 && !_engine!.MayLack(region, acknowledged))
                {
                    SetBit(region, false);
                }
            }

            i++;
        }
    }

    private void SetBit(long region, bool value)
    {
        long index = region >> 3;
        byte mask = (byte)(1 << (int)(region & 7));
        bool isSet = (_bitmap[index] & mask) != 0;
        if (isSet == value)
        {
            return;
        }

        _bitmap[index] = value ? (byte)(_bitmap[index] | mask) : (byte)(_bitmap[index] & ~mask);
        _setBits += value ? 1 : -1;
        int sector = (int)(index / DirtyLogGeometry.BitmapBytesPerSector);
        if (!_sectorChanged[sector])
        {
            _sectorChanged[sector] = true;
            _changedSectors.Add(sector);
        }
    }

    private List<(int Sector, byte[] Bits)> TakeChangedSectors()
    {
        var sectors = new List<(int, byte[])>(_changedSectors.Count);
        foreach (int sector in _changedSectors)
        {
            sectors.Add((sector, SectorBits(sector).ToArray()));
            _sectorChanged[sector] = false;
        }

        _changedSectors.Clear();
        return sectors;
    }

    private ReadOnlySpan<byte> SectorBits(int sector) => _bitmap.AsSpan(sector * DirtyLogGeometry.BitmapBytesPerSector, DirtyLogGeometry.BitmapBytesPerSector);

    private List<long> SetRegions()
    {
        var regions = new List<long>((int)Math.Min(_setBits, int.MaxValue));
        for (long r = 0; r < _geometry.RegionCount; r++)
        {
            if ((_bitmap[r >> 3] & (1 << (int)(r & 7))) != 0)
            {
                regions.Add(r);
            }
        }

        return regions;
    }

    /// <summary>A write held for the log; <see cref="DirtyLogOperation.Id"/> of the operation that set its bits directly, or 0.</summary>
    public readonly record struct Held(long RequestId, BlockRequest Request, ReadOnlyMemory<byte> Payload, long DirectIn);
}

/// <summary>The dirty log at a primary's start: the tracker, what it restored (or null), and why it restored nothing.</summary>
public sealed record DirtyLogStart(DirtyTracker Tracker, RestoredDirtyLog? Restored, string? NotRestoredBecause);

/// <summary>
/// What a trusted log gives back: the regions that may differ from a secondary holding
/// <see cref="AcknowledgedEpoch"/> or later in generation <see cref="AcknowledgedGeneration"/>,
/// and whether the primary had crashed (its active extents are among them).
/// </summary>
public sealed record RestoredDirtyLog(long AcknowledgedEpoch, ulong AcknowledgedGeneration, IReadOnlyList<long> Regions, bool AfterCrash);
