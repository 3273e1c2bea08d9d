using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Replicator.Runtime.Primary;

namespace Replicator.Cli.Hosting;

/// <summary>
/// The control commands of a node that runs as a primary — started as one, or promoted — answered
/// the same way by either daemon.
/// </summary>
internal static class PrimaryControl
{
    public const string Commands = "status, checkpoint, verify, sync-rate";

    /// <summary>The answer to <paramref name="command"/>; <paramref name="role"/> and <paramref name="nbd"/> go into the status.</summary>
    public static async Task<JsonNode?> AnswerAsync(PrimaryNode node, string role, string? nbd, string command, CancellationToken cancel) => command switch
    {
        "status" => JsonSerializer.SerializeToNode(new { role, status = node.Status, nbd }),
        "checkpoint" => JsonSerializer.SerializeToNode(new { acknowledged = await node.CheckpointAsync().WaitAsync(cancel).ConfigureAwait(false) }),
        _ when command.StartsWith("sync-rate ", StringComparison.Ordinal) => SetSyncRate(node, command),
        "verify" or "verify --repair" => JsonSerializer.SerializeToNode(await node.VerifyAsync(repair: command.EndsWith("--repair", StringComparison.Ordinal)).WaitAsync(cancel).ConfigureAwait(false)),
        _ => throw new InvalidOperationException($"a {role} node does not know '{command}' ({Commands})"),
    };

    /// <summary>The control command <c>sync-rate MBPS</c>: the new limit, or why not.</summary>
    private static JsonNode? SetSyncRate(PrimaryNode node, string command)
    {
        if (!int.TryParse(command.AsSpan("sync-rate ".Length), NumberStyles.None, CultureInfo.InvariantCulture, out int mbps))
        {
            throw new InvalidOperationException($"sync-rate takes MB/s as a whole number, 0 for no limit, not '{command["sync-rate ".Length..]}'");
        }

        node.SetSyncRate(mbps * 1_000_000L);
        return JsonSerializer.SerializeToNode(new { syncRateMBps = mbps });
    }
}
