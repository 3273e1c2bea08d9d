using Replicator.InMemory;
using Replicator.Sim.Faults;
using Replicator.Sim.World;

namespace Replicator.Sim.Storage;

/// <summary>
/// The simulated world's faults on one disk's in-memory files: the host's power switch first (a
/// call after the cut never happens), then injected read, write and flush errors and a full disk
/// (every write fails), as the <see cref="IOException"/>s the real storage code handles.
/// </summary>
internal sealed class SimStorageFaults(DiskId disk, DiskFaults faults, SimScheduler clock, SimPowerSwitch power) : IStorageFaults
{
    public SimPowerSwitch Power { get; } = power;

    public void BeforeCall(StorageCall kind, string name)
    {
        Power.BeforeCall();
        long now = clock.Now;
        DiskFailure? failureKind = kind switch
        {
            StorageCall.Read => DiskFailure.Read,
            StorageCall.Write or StorageCall.Resize => DiskFailure.Write,
            StorageCall.Flush => DiskFailure.Flush,
            _ => null,
        };
        if (failureKind is { } failure && faults.Fails(disk, failure, now))
        {
            throw new IOException($"{kind.ToString().ToLowerInvariant()} of {name} failed: input/output error");
        }

        if (failureKind == DiskFailure.Write && faults.IsFull(disk, now))
        {
            throw new IOException($"writing {name}: no space left on device");
        }
    }
}
