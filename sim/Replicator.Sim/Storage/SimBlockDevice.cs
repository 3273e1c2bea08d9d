using Replicator.Core.Storage;
using Replicator.Sim.Faults;
using Replicator.Sim.World;

namespace Replicator.Sim.Storage;

/// <summary>
/// An open simulated file as the storage code sees it: the real code's reads, writes and flushes land
/// on a <see cref="SimFile"/>, with the disk's injected errors, a full disk, and the power switch.
/// Each call adds its modelled time to the disk's account, which the shell turns into the latency
/// of the storage operation that made it.
/// </summary>
internal sealed class SimBlockDevice(string name, SimFile file, SimDiskContext disk) : IBlockDevice
{
    private bool _closed;

    public string Name { get; } = name;

    public long Size => file.Size;

    public SimFile File => file;

    public void Read(long offset, Span<byte> destination)
    {
        Enter(DiskFailure.Read, destination.Length, "read");
        file.Read(offset, destination);
    }

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        Enter(DiskFailure.Write, data.Length, "write");
        if (offset + data.Length > file.Size && disk.Faults.IsFull(disk.Id, disk.Clock.Now))
        {
            throw new IOException($"writing {Name}: no space left on device");
        }

        file.Write(offset, data);
    }

    public void Flush()
    {
        Enter(DiskFailure.Flush, 0, "flush");
        disk.ChargeUs(disk.Profile.FlushUs);
        file.Flush();
    }

    public void SetSize(long size)
    {
        Enter(DiskFailure.Write, 0, "resize");
        file.SetSize(size);
    }

    public void Dispose() => _closed = true;

    private void Enter(DiskFailure kind, int bytes, string what)
    {
        disk.Power.BeforeCall();
        ObjectDisposedException.ThrowIf(_closed, this);
        disk.ChargeUs(disk.Profile.WriteUs + (long)(bytes / 1024.0 * disk.Profile.UsPerKiB) + disk.Faults.ExtraLatency(disk.Id, disk.Clock.Now));
        if (disk.Faults.Fails(disk.Id, kind, disk.Clock.Now))
        {
            disk.Failures++;
            throw new IOException($"{what} of {Name} failed: input/output error");
        }
    }
}

/// <summary>What the simulated files of one disk share: its identity, speed, faults, clock, the host's power, and the time its calls took.</summary>
internal sealed class SimDiskContext(DiskId id, DiskProfile profile, DiskFaults faults, SimScheduler clock, SimPowerSwitch power, Random jitter)
{
    public DiskId Id { get; } = id;

    public DiskProfile Profile { get; } = profile;

    public DiskFaults Faults { get; } = faults;

    public SimScheduler Clock { get; } = clock;

    public SimPowerSwitch Power { get; } = power;

    public long Failures { get; set; }

    /// <summary>Modelled time of the calls since the last <see cref="TakeUs"/>.</summary>
    private long _chargedUs;

    public void ChargeUs(long us) => _chargedUs += us;

    /// <summary>The time the calls since the last take took, with the disk's jitter.</summary>
    public long TakeUs()
    {
        long us = _chargedUs + jitter.NextInt64(Profile.JitterUs + 1);
        _chargedUs = 0;
        return us;
    }
}
