namespace Replicator.Qemu.Processes;

/// <summary>How QEMU starts: booting the guest, or stopped and waiting for a checkpoint's device state.</summary>
public enum LaunchMode
{
    Boot,

    /// <summary><c>-S -incoming defer</c>: nothing runs until the state is loaded and <c>cont</c> is sent.</summary>
    Incoming,
}
