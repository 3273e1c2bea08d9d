using System.Text.Json;

namespace Replicator.Qemu.Qmp;

/// <summary>
/// An asynchronous event QEMU sent (STOP, RESUME, MIGRATION, SHUTDOWN...), with its data, if any,
/// detached from the message it came in so it outlives the reader's buffer.
/// </summary>
public sealed record QmpEvent(string Name, JsonElement Data, DateTimeOffset Timestamp)
{
    /// <summary>The <c>status</c> field of the event's data (MIGRATION carries one), or null.</summary>
    public string? Status =>
        Data.ValueKind == JsonValueKind.Object && Data.TryGetProperty("status", out JsonElement status) && status.ValueKind == JsonValueKind.String
            ? status.GetString()
            : null;
}
