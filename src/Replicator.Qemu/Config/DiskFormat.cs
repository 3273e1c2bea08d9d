namespace Replicator.Qemu.Config;

/// <summary>The guest disk's image format as QEMU's <c>-drive format=</c> names it.</summary>
public enum DiskFormat
{
    Raw,
    Qcow2,
}
