namespace Replicator.Core.Vm;

/// <summary>
/// The guest as the checkpoint sees it. A hypervisor adapter or the synthetic guest implements it;
/// the runtime calls it when the core asks (pause, capture, resume) and on failover (restore).
/// </summary>
public interface IVirtualMachine
{
    /// <summary>Stops the vCPUs: the guest issues no new requests and produces no output until resumed.</summary>
    void Pause();

    /// <summary>Restarts the vCPUs after a checkpoint.</summary>
    void ResumeExecution();

    /// <summary>Captures the state changed since the previous capture (everything, the first time).</summary>
    VmSnapshot CaptureChanges(long epoch);

    /// <summary>
    /// Captures the whole state (every RAM page and the vCPU state), for a node that may lack any
    /// change since some earlier checkpoint (after a resync); later captures continue from this one.
    /// </summary>
    VmSnapshot CaptureAll(long epoch);

    /// <summary>
    /// The node no longer reads <paramref name="snapshot"/>: its checkpoint is serialised onto the
    /// link, or was dropped. A VM that captures into pooled buffers (<see cref="PagePool"/>) takes
    /// its pages back for the next capture; returning is an optimisation, so the default does nothing.
    /// </summary>
    void Release(VmSnapshot snapshot)
    {
    }

    /// <summary>Replaces the whole VM state with the state of one checkpoint, on the node taking over.</summary>
    void Restore(VmState state);
}
