using System.Buffers.Binary;
using Replicator.Core.Blocks;
using Replicator.Core.Vm;

namespace Replicator.Core.Guest;

/// <summary>
/// A guest whose state is known byte for byte at every checkpoint: it dirties RAM pages at a set
/// rate, issues writes of varied size (some on top of recent ones, so overlapping writes are in
/// flight together), write-zeroes, trims, flushes and FUA writes, and keeps a model of its disk
/// built from the requests that completed, in the order they completed. Overlapping requests are
/// serialised by the write filter, so completion order is the order the disk applied them.
/// </summary>
public sealed class SyntheticGuest : IVirtualMachine
{
    private const int RecentWrites = 8;

    // A load generator's payloads per size: enough distinct bytes that copying them is not a cache-hot loop.
    private const int PayloadBytesPerSize = 8 << 20;

    private readonly SyntheticGuestOptions _options;
    private readonly Random _random;
    private readonly byte[] _disk;
    private readonly byte[] _ram;
    private readonly bool[] _dirtyPages;
    private readonly PagePool _capturedPages;
    private int _dirtyCount;
    private readonly byte[] _cpu = new byte[64];
    private readonly long[] _recentOffsets = new long[RecentWrites];
    private readonly SortedDictionary<long, GuestCheckpoint> _checkpoints = new();
    private readonly Dictionary<int, byte[][]> _payloads = new();
    private long _nextRequestId = 1;
    private int _recentCount;
    private double _pagesOwed;
    private int _nextDirtyPage;

    public SyntheticGuest(SyntheticGuestOptions options, ReadOnlySpan<byte> initialDisk = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        _ = options.Geometry; // validates disk and request sizes
        if (options.FixedWriteBytes != 0 && (options.FixedWriteBytes < BlockGeometry.SectorSize || options.FixedWriteBytes > options.MaxWriteBytes || !int.IsPow2(options.FixedWriteBytes / BlockGeometry.SectorSize) || options.FixedWriteBytes % BlockGeometry.SectorSize != 0))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.FixedWriteBytes, $"a fixed write size must be a power of two times {BlockGeometry.SectorSize} bytes, at most {options.MaxWriteBytes}");
        }

        _options = options;
        _random = new Random(options.Seed);
        _disk = options.KeepsRecord ? new byte[options.DiskBytes] : [];
        if (options.KeepsRecord)
        {
            initialDisk.CopyTo(_disk);
        }

        _ram = new byte[(long)options.RamPages * options.PageSize];
        _random.NextBytes(_ram);

        // Everything is dirty at the start: the first checkpoint carries the whole RAM.
        _dirtyPages = new bool[options.RamPages];
        Array.Fill(_dirtyPages, true);
        _dirtyCount = options.RamPages;
        _capturedPages = new PagePool(options.PageSize, options.RamPages);
    }

    public SyntheticGuestOptions Options => _options;

    public bool IsPaused { get; private set; }

    public long RequestsIssued => _nextRequestId - 1;

    /// <summary>The disk as the guest believes it is: every completed request applied in completion order.</summary>
    public ReadOnlySpan<byte> Disk => _disk;

    public ReadOnlySpan<byte> Ram => _ram;

    /// <summary>Makes up the next request and dirties RAM at the configured rate. Not called while paused.</summary>
    public GuestRequest NextRequest()
    {
        if (IsPaused)
        {
            throw new InvalidOperationException("a paused guest issues no requests");
        }

        _pagesOwed += _options.PagesDirtiedPerRequest;
        int pages = (int)_pagesOwed;
        _pagesOwed -= pages;
        DirtyRam(pages);
        long id = _nextRequestId++;
        double roll = _random.NextDouble();
        if (roll < _options.FlushProbability)
        {
            return new GuestRequest(id, BlockRequest.Flush(), []);
        }

        (long offset, int length) = PickRange();
        roll -= _options.FlushProbability;
        if (roll < _options.WriteZeroesProbability)
        {
            return new GuestRequest(id, BlockRequest.Zeroes(offset, length, _random.NextDouble() < _options.FuaProbability), []);
        }

        roll -= _options.WriteZeroesProbability;
        if (roll < _options.TrimProbability)
        {
            return new GuestRequest(id, BlockRequest.Trim(offset, length), []);
        }

        byte[] payload;
        if (_options.KeepsRecord)
        {
            payload = new byte[length];
            _random.NextBytes(payload);
        }
        else
        {
            payload = MadePayload(length);
        }

        return new GuestRequest(id, BlockRequest.Write(offset, length, _random.NextDouble() < _options.FuaProbability), payload);
    }

    /// <summary>The write filter completed a request: fold it into the model if it succeeded.</summary>
    public void OnCompleted(in GuestRequest request, RequestStatus status)
    {
        if (status != RequestStatus.Ok || !_options.KeepsRecord)
        {
            return;
        }

        BlockRequest r = request.Request;
        Span<byte> target = r.ChangesData ? _disk.AsSpan(checked((int)r.Offset), r.Length) : default;
        switch (r.Op)
        {
            case BlockOp.Write:
                request.Payload.CopyTo(target);
                break;
            case BlockOp.WriteZeroes or BlockOp.Trim:
                target.Clear();
                break;
        }
    }

    /// <summary>
    /// Dirties <paramref name="pages"/> random RAM pages: a few bytes each, so changes are real, or
    /// (<see cref="SyntheticGuestOptions.PageRewriteProbability"/>) the whole page with random bytes.
    /// </summary>
    public void DirtyRam(int pages)
    {
        for (int i = 0; i < pages; i++)
        {
            int page = _options.KeepsRecord ? _random.Next(_options.RamPages) : _nextDirtyPage++ % _options.RamPages;
            if (_options.PageRewriteProbability > 0 && _random.NextDouble() < _options.PageRewriteProbability)
            {
                _random.NextBytes(_ram.AsSpan(page * _options.PageSize, _options.PageSize));
            }
            else
            {
                int at = page * _options.PageSize + _random.Next(_options.PageSize - 8);
                BinaryPrimitives.WriteInt64LittleEndian(_ram.AsSpan(at), _random.NextInt64());
            }

            _dirtyCount += _dirtyPages[page] ? 0 : 1;
            _dirtyPages[page] = true;
        }
    }

    public void Pause() => IsPaused = true;

    public void ResumeExecution() => IsPaused = false;

    /// <summary>Captures the pages dirtied since the last capture and records the guest's whole state at this checkpoint.</summary>
    public VmSnapshot CaptureChanges(long epoch)
    {
        BinaryPrimitives.WriteInt64LittleEndian(_cpu, epoch);
        BinaryPrimitives.WriteInt64LittleEndian(_cpu.AsSpan(8), _nextRequestId);
        BinaryPrimitives.WriteUInt64LittleEndian(_cpu.AsSpan(16), _options.KeepsRecord ? GuestCheckpoint.Hash(_ram) : 0);

        // Copied into pooled buffers, given back by Release once the checkpoint is on the link: a
        // capture in steady state allocates its page list and nothing per page.
        var pages = new VmPage[_dirtyCount];
        int captured = 0;
        for (int page = 0; page < _dirtyPages.Length; page++)
        {
            if (_dirtyPages[page])
            {
                byte[] copy = _capturedPages.Rent();
                _ram.AsSpan(page * _options.PageSize, _options.PageSize).CopyTo(copy);
                pages[captured++] = new VmPage(page, copy);
                _dirtyPages[page] = false;
            }
        }

        _dirtyCount = 0;

        if (_options.KeepsRecord)
        {
            // Whole copies only when asked to keep some: a long run at 40 Hz keeps hashes alone.
            bool keepCopy = _options.RetainedCheckpoints > 0;
            _checkpoints[epoch] = new GuestCheckpoint(epoch, GuestCheckpoint.Hash(_disk), GuestCheckpoint.Hash(_ram), _cpu.ToArray(), keepCopy ? _disk.ToArray() : null, keepCopy ? _ram.ToArray() : null);
            ForgetOldCopies();
        }

        return new VmSnapshot(epoch, _cpu.ToArray(), pages);
    }

    /// <summary>Captures every page, as the base for a secondary being resynced.</summary>
    public VmSnapshot CaptureAll(long epoch)
    {
        Array.Fill(_dirtyPages, true);
        _dirtyCount = _dirtyPages.Length;
        return CaptureChanges(epoch);
    }

    /// <summary>
    /// The node no longer reads <paramref name="snapshot"/> (<see cref="IVirtualMachine.Release"/>):
    /// its pages go back to the pool for the next capture. A snapshot of this guest's is released once.
    /// </summary>
    public void Release(VmSnapshot snapshot) => _capturedPages.Return(snapshot);

    /// <summary>Takes over the RAM and vCPU state of a checkpoint (the guest resumed on the promoted node).</summary>
    public void Restore(VmState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Ram.Length != _ram.Length)
        {
            throw new ArgumentException($"VM state holds {state.Ram.Length} bytes of RAM, the guest has {_ram.Length}", nameof(state));
        }

        state.Ram.CopyTo(_ram);
        state.CpuState.CopyTo(_cpu.AsSpan());
        Array.Fill(_dirtyPages, true);
        _dirtyCount = _dirtyPages.Length;
    }

    /// <summary>
    /// The guest starts again on its primary's disk as a crash of the primary left it: writes that
    /// were in flight may or may not be there, and the guest now sees what is. Its model of the
    /// disk becomes <paramref name="disk"/>; checkpoints recorded before stay as they were.
    /// </summary>
    public void RestartOnDisk(ReadOnlySpan<byte> disk)
    {
        if (disk.Length != _disk.Length)
        {
            throw new ArgumentException($"the disk holds {disk.Length} bytes, the guest's {_disk.Length}", nameof(disk));
        }

        disk.CopyTo(_disk);
    }

    /// <summary>The recorded state at a checkpoint, or null if none was captured for that epoch.</summary>
    public GuestCheckpoint? ExpectedAt(long epoch) => _checkpoints.GetValueOrDefault(epoch);

    /// <summary>One of the payloads of this size made up front (read-only: several writes may share one at once).</summary>
    private byte[] MadePayload(int length)
    {
        if (!_payloads.TryGetValue(length, out byte[][]? made))
        {
            made = new byte[Math.Max(4, PayloadBytesPerSize / length)][];
            for (int i = 0; i < made.Length; i++)
            {
                made[i] = new byte[length];
                _random.NextBytes(made[i]);
            }

            _payloads[length] = made;
        }

        return made[_random.Next(made.Length)];
    }

    private (long Offset, int Length) PickRange()
    {
        int maxSectorsLog2 = System.Numerics.BitOperations.Log2((uint)(_options.MaxWriteBytes / BlockGeometry.SectorSize));
        int length = _options.FixedWriteBytes != 0 ? _options.FixedWriteBytes : BlockGeometry.SectorSize << _random.Next(maxSectorsLog2 + 1);
        long sectors = _options.DiskBytes / BlockGeometry.SectorSize;
        long offset;
        if (_recentCount > 0 && _random.NextDouble() < _options.OverlapProbability)
        {
            // Land on or near a recent write so the two overlap.
            long anchor = _recentOffsets[_random.Next(Math.Min(_recentCount, RecentWrites))];
            offset = anchor + (_random.Next(-4, 5) * BlockGeometry.SectorSize);
        }
        else
        {
            offset = _random.NextInt64(sectors) * BlockGeometry.SectorSize;
        }

        offset = Math.Clamp(offset, 0, _options.DiskBytes - length);
        if (_options.FixedWriteBytes != 0)
        {
            // Fixed-size writes land aligned to their size, as a file system's blocks do.
            offset -= offset % _options.FixedWriteBytes;
        }

        _recentOffsets[_recentCount++ % RecentWrites] = offset;
        return (offset, length);
    }

    private void ForgetOldCopies()
    {
        int excess = _checkpoints.Count - _options.RetainedCheckpoints;
        foreach (GuestCheckpoint old in _checkpoints.Values.Take(Math.Max(0, excess)).ToList())
        {
            if (old.Disk is not null)
            {
                _checkpoints[old.Epoch] = old with { Disk = null, Ram = null };
            }
        }
    }
}
