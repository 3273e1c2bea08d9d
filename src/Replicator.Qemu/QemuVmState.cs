namespace Replicator.Qemu;

/// <summary>Where the adapter's QEMU is in its life, as the adapter drove it.</summary>
public enum QemuVmState
{
    /// <summary>No QEMU yet: <see cref="QemuVirtualMachine.StartAsync"/> boots one, <see cref="QemuVirtualMachine.RestoreAsync"/> restores one.</summary>
    NotStarted,
    /// <summary>
    /// QEMU started for a restore (<see cref="QemuVirtualMachine.PrepareRestoreAsync"/>), waiting
    /// for the state to load: nothing runs; <see cref="QemuVirtualMachine.RestoreAsync"/> goes on from here.
    /// </summary>
    AwaitingState,
    Running,
    Paused,

    /// <summary>QEMU exited or was killed; the adapter can do nothing more with it.</summary>
    Gone,
}
