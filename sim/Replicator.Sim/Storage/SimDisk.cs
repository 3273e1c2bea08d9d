using Replicator.Core.Blocks;
using Replicator.InMemory;
using Replicator.Sim.Faults;
using Replicator.Sim.World;

namespace Replicator.Sim.Storage;

/// <summary>
/// A block device in the simulated world: a <see cref="MemoryDisk"/> (volatile write cache, power
/// cuts torn per sector) behind latency, out-of-order completion and injected faults. A request's
/// effect lands when it completes; one still in flight at a power cut or crash never lands.
/// </summary>
internal sealed class SimDisk
{
    private readonly SimScheduler _clock;
    private readonly DiskProfile _profile;
    private readonly DiskFaults _faults;
    private readonly Random _random;
    private int _generation;

    public SimDisk(DiskId id, SimScheduler clock, DiskProfile profile, DiskFaults faults, Random random, ReadOnlySpan<byte> initial)
    {
        Id = id;
        _clock = clock;
        _profile = profile;
        _faults = faults;
        _random = random;
        Memory = new MemoryDisk(initial.Length, initial);
    }

    public DiskId Id { get; }

    public MemoryDisk Memory { get; }

    public long Failures { get; private set; }

    /// <summary>Performs a write, write-zeroes, trim or flush; <paramref name="done"/> gets whether it succeeded.</summary>
    public void Submit(BlockRequest request, ReadOnlyMemory<byte> payload, Action<bool> done)
    {
        long now = _clock.Now;
        bool isFlush = request.Op == BlockOp.Flush;
        bool fails = isFlush ? _faults.Fails(Id, DiskFailure.Flush, now)
            : _faults.Fails(Id, DiskFailure.Write, now) || (request.Op == BlockOp.Write && _faults.IsFull(Id, now));
        long latency = (isFlush ? _profile.FlushUs : _profile.WriteUs + (long)(request.Length / 1024.0 * _profile.UsPerKiB))
            + _random.NextInt64(_profile.JitterUs + 1) + _faults.ExtraLatency(Id, now);
        int generation = _generation;
        _clock.After(latency, () =>
        {
            if (generation != _generation)
            {
                return; // the machine lost power or the process died: this request never finished
            }

            if (fails)
            {
                // A failed write leaves its range as it was; a failed flush makes nothing durable,
                // so what reached the medium is unknown until the next flush that succeeds (what a
                // reader sees does not change: the data is still in the cache).
                Failures++;
                done(false);
                return;
            }

            if (isFlush)
            {
                Memory.Flush();
            }
            else
            {
                Memory.Apply(request, payload.Span);
            }

            done(true);
        });
    }

    /// <summary>Reads a range; <paramref name="done"/> gets whether it succeeded and, if so, the bytes as they are when the read completes.</summary>
    public void Read(long offset, int length, Action<bool, byte[]> done)
    {
        long now = _clock.Now;
        bool fails = _faults.Fails(Id, DiskFailure.Read, now);
        long latency = _profile.WriteUs + (long)(length / 1024.0 * _profile.UsPerKiB) + _random.NextInt64(_profile.JitterUs + 1) + _faults.ExtraLatency(Id, now);
        int generation = _generation;
        _clock.After(latency, () =>
        {
            if (generation != _generation)
            {
                return;
            }

            if (fails)
            {
                Failures++;
                done(false, []);
                return;
            }

            done(true, Memory.Contents.Slice((int)offset, length).ToArray());
        });
    }

    /// <summary>
    /// A flush asked for by storage code beside the guest's I/O (the dirty log's): its latency is the
    /// profile's without jitter, so adding it leaves the draws of the guest's own requests as they were.
    /// </summary>
    public void FlushCache(Action<bool> done)
    {
        long now = _clock.Now;
        bool fails = _faults.Fails(Id, DiskFailure.Flush, now);
        int generation = _generation;
        _clock.After(_profile.FlushUs + _faults.ExtraLatency(Id, now), () =>
        {
            if (generation != _generation)
            {
                return;
            }

            if (fails)
            {
                Failures++;
                done(false);
                return;
            }

            Memory.Flush();
            done(true);
        });
    }

    /// <summary>Requests in flight are forgotten (their completions never arrive); the cache is kept.</summary>
    public void AbandonInFlight() => _generation++;

    /// <summary>The machine loses power: requests in flight vanish and the cache keeps a random legal subset.</summary>
    public void PowerCut(Random random)
    {
        _generation++;
        Memory.PowerCut(random);
    }
}
