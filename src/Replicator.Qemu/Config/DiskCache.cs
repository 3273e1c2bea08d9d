namespace Replicator.Qemu.Config;

/// <summary>QEMU's <c>-drive cache=</c> mode for the guest disk.</summary>
public enum DiskCache
{
    /// <summary>O_DIRECT on the host, the guest's flushes passed through: what a replicated disk wants.</summary>
    None,
    Writethrough,
    Writeback,
    Directsync,
}
