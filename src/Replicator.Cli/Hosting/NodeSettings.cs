using System.Globalization;
using System.Net;
using Replicator.Runtime.Links;

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

    /// <summary>Primary: a checkpoint unacknowledged this long makes the status Stalled, not Protected.</summary>
    public int AckTimeoutMs { get; set; } = 2000;

    public bool AutoFailover { get; set; }

    /// <summary>Primary only: run with no secondary (replication off, the guest unprotected).</summary>
    public bool NoReplication { get; set; }

    /// <summary>Primary: first wait before reconnecting to a lost secondary (doubling up to 32 times); 0 never reconnects.</summary>
    public int ReconnectMs { get; set; } = 250;

    /// <summary>The pair key file (made by <c>replicator keygen</c>) that authenticates and encrypts the link.</summary>
    public string? LinkKey { get; set; }

    /// <summary>Run the link without authentication or encryption; must be said explicitly.</summary>
    public bool InsecureLink { get; set; }

    /// <summary>Secondary: connections still proving the pair key, at most.</summary>
    public int MaxPendingLinks { get; set; } = 8;

    /// <summary>How long a new link has to complete its TLS handshake.</summary>
    public int LinkHandshakeTimeoutMs { get; set; } = 5000;

    /// <summary>Secondary: fail over at start from the last checkpoint that verifies, discarding what a damaged journal holds beyond it.</summary>
    public bool FailoverDiscardingUnverifiableEpochs { get; set; }

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
        ["--ack-timeout-ms"] = "Replicator:AckTimeoutMs",
        ["--auto-failover"] = "Replicator:AutoFailover",
        ["--no-replication"] = "Replicator:NoReplication",
        ["--reconnect-ms"] = "Replicator:ReconnectMs",
        ["--link-key"] = "Replicator:LinkKey",
        ["--failover-discarding-unverifiable-epochs"] = "Replicator:FailoverDiscardingUnverifiableEpochs",
        ["--insecure-link"] = "Replicator:InsecureLink",
        ["--max-pending-links"] = "Replicator:MaxPendingLinks",
        ["--link-handshake-timeout-ms"] = "Replicator:LinkHandshakeTimeoutMs",
    };

    /// <summary>Reads the pair key named by the settings; adds a problem naming the file when it cannot be used.</summary>
    public LinkKey? LoadLinkKey(List<string> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        if (string.IsNullOrWhiteSpace(LinkKey))
        {
            return null;
        }

        try
        {
            return Runtime.Links.LinkKey.Load(LinkKey);
        }
        catch (LinkKeyException e)
        {
            problems.Add(e.Message);
            return null;
        }
    }

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
