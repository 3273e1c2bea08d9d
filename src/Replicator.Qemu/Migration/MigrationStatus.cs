namespace Replicator.Qemu.Migration;

/// <summary>The states of a QEMU migration (qapi/migration.json) the adapter acts on; the rest are <see cref="Other"/>.</summary>
public enum MigrationStatus
{
    Other,
    Setup,
    Active,
    Completed,
    Failed,
    Cancelled,
}

public static class MigrationStatuses
{
    public static MigrationStatus Parse(string? status) => status switch
    {
        "setup" => MigrationStatus.Setup,
        "active" or "device" => MigrationStatus.Active,
        "completed" => MigrationStatus.Completed,
        "failed" => MigrationStatus.Failed,
        "cancelled" => MigrationStatus.Cancelled,
        _ => MigrationStatus.Other,
    };

    /// <summary>Whether the migration is over, one way or the other.</summary>
    public static bool IsFinal(this MigrationStatus status) => status is MigrationStatus.Completed or MigrationStatus.Failed or MigrationStatus.Cancelled;
}
