using Replicator.Core.Vm;

namespace Replicator.Runtime.Guest;

/// <summary>
/// The VM behind a plain NBD export: there is no RAM or vCPU to capture, only the disk. Pausing
/// needs no action, because the engine itself holds new requests back while it drains.
/// </summary>
public sealed class DiskOnlyVirtualMachine : IVirtualMachine
{
    public void Pause()
    {
    }

    public void ResumeExecution()
    {
    }

    public VmSnapshot CaptureChanges(long epoch) => new(epoch, [], []);

    public VmSnapshot CaptureAll(long epoch) => new(epoch, [], []);

    public void Restore(VmState state)
    {
    }
}
