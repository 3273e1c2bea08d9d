using System.Globalization;
using System.Net;

namespace Replicator.Cli.Hosting;

/// <summary>
/// A daemon's settings, bound from the "Replicator" section: appsettings.json, then environment
/// (REPLICATOR__Replicator__Image=...), then the command line (--image ...), later ones winning.
/// </summary>
public sealed class NodeSettings
{
    public string? Image { get; set; }

    public string? StateDir { get; set; }

    public string? Listen { get; set; }

    public string? Peer { get; set; }

    public string? Nbd { get; set; }

    public string PairId { get; set; } = "replicator";

    public int EpochMs { get; set; } = 25;

    public long BufferMb { get; set; } = 256;

    public long RamKb { get; set; } = 4;

    public int MaxRequestKb { get; set; } = 1024;

    public int HeartbeatMs { get; set; } = 200;

    public int HeartbeatTimeoutMs { get; set; } = 2000;

    public bool AutoFailover { get; set; }

    /// <summary>Primary only: run with no secondary (replication off, the guest unprotected).</summary>
    public bool NoReplication { get; set; }

    /// <summary>Primary: first wait before reconnecting to a lost secondary (doubling up to 32 times); 0 never reconnects.</summary>
    public int ReconnectMs { get; set; } = 250;

    /// <summary>The command-line switches, as the issue's command lines spell them.</summary>
    public static IReadOnlyDictionary<string, string> Switches { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["--image"] = "Replicator:Image",
        ["--state-dir"] = "Replicator:StateDir",
        ["--listen"] = "Replicator:Listen",
        ["--peer"] = "Replicator:Peer",
        ["--nbd"] = "Replicator:Nbd",
        ["--pair-id"] = "Replicator:PairId",
        ["--epoch-ms"] = "Replicator:EpochMs",
        ["--buffer-mb"] = "Replicator:BufferMb",
        ["--ram-kb"] = "Replicator:RamKb",
        ["--max-request-kb"] = "Replicator:MaxRequestKb",
        ["--heartbeat-ms"] = "Replicator:HeartbeatMs",
        ["--heartbeat-timeout-ms"] = "Replicator:HeartbeatTimeoutMs",
        ["--auto-failover"] = "Replicator:AutoFailover",
        ["--no-replication"] = "Replicator:NoReplication",
        ["--reconnect-ms"] = "Replicator:ReconnectMs",
    };

    /// <summary>Parses HOST:PORT (an IP address); adds a problem and returns null when it is not one.</summary>
    public static IPEndPoint? ParseEndPoint(string? value, string name, List<string> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        if (string.IsNullOrWhiteSpace(value))
        {
            problems.Add($"--{name} HOST:PORT is required");
            return null;
        }

        if (IPEndPoint.TryParse(value.Replace("localhost", "127.0.0.1", StringComparison.Ordinal), out IPEndPoint? endPoint) && endPoint.Port > 0)
        {
            return endPoint;
        }

        problems.Add($"--{name} '{value}' is not an IP address and port (e.g. 127.0.0.1:{(name == "nbd" ? 10809 : 7700).ToString(CultureInfo.InvariantCulture)})");
        return null;
    }
}
