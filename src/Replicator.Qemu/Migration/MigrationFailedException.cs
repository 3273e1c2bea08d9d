namespace Replicator.Qemu.Migration;

/// <summary>QEMU ended a device-state migration (out for a checkpoint, or in for a restore) without completing it.</summary>
public sealed class MigrationFailedException(MigrationStatus status, string detail)
    : Exception($"QEMU's migration ended {status.ToString().ToLowerInvariant()}: {detail}")
{
    public MigrationStatus Status { get; } = status;
}
