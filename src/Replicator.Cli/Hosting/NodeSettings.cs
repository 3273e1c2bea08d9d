using System.Globalization;
using System.Net;
using Replicator.Cli.CommandLine;
using Replicator.Nbd;
using Replicator.Runtime.Links;

namespace Replicator.Cli.Hosting;

/// <summary>
/// A daemon's settings, bound from the "Replicator" section: appsettings.json, then environment
/// (REPLICATOR__Replicator__Image=...), then the command line (--image ...), later ones winning.
/// Each property marked <see cref="SettingAttribute"/> is one option (see <see cref="DaemonOptions"/>).
/// </summary>
public sealed class NodeSettings
{
    /// <summary>The two forms <c>--nbd</c> takes.</summary>
    private const string NbdForms = "HOST:PORT or unix:PATH";

    [Setting(NodeRoles.Both, "the raw image (size a multiple of 512)")]
    public string? Image { get; set; }

    [Setting(NodeRoles.Both, "the node's state directory")]
    public string? StateDir { get; set; }

    [Setting(NodeRoles.Both, "HOST:PORT where the primary connects (a primary's: where it listens once it has handed over in a switchover)")]
    public string? Listen { get; set; }

    [Setting(NodeRoles.Both, "HOST:PORT of the peer: where the primary replicates to (a secondary, once promoted, replicates there too)")]
    public string? Peer { get; set; }

    [Setting(NodeRoles.Both, "HOST:PORT, or unix:PATH (a socket file, owner-only), of the NBD export (the secondary's once promoted)")]
    public string? Nbd { get; set; }

    [Setting(NodeRoles.Both, "the pair's identity; both nodes must agree")]
    public string PairId { get; set; } = "replicator";

    [Setting(NodeRoles.Both, "the pair key file (replicator keygen): the link is TLS 1.3, both ends proving it")]
    public string? LinkKey { get; set; }

    [Setting(NodeRoles.Both, "run the link unauthenticated and unencrypted (instead of --link-key)")]
    public bool InsecureLink { get; set; }

    [Setting(NodeRoles.Both, "the checkpoint interval, in ms (a secondary's once promoted)")]
    public int EpochMs { get; set; } = 25;

    [Setting(NodeRoles.Both, "the secondary's RAM buffer bound (the primary's credit), in MiB (a primary's once it follows after a switchover)")]
    public long BufferMb { get; set; } = 64;

    [Setting(NodeRoles.Both, "committed data the secondary may hold in RAM for the write-back to its image with the primary's credit already returned, in MiB (0: credit waits for the write-back)")]
    public long WritebackMb { get; set; } = 256;

    /// <summary>The largest RAM bound an option in MiB may name: 1 TiB.</summary>
    public const long MaxMebibytes = 1L << 20;

    /// <summary>
    /// <see cref="BufferMb"/> and <see cref="WritebackMb"/> in bytes, each checked before it is
    /// shifted, so no value wraps into a small or negative bound; a problem names the option.
    /// </summary>
    public (long BufferBytes, long WritebackBytes) SecondaryRamBounds(List<string> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        if (BufferMb is < 1 or > MaxMebibytes)
        {
            problems.Add($"--buffer-mb {BufferMb} must be 1..{MaxMebibytes}");
        }

        if (WritebackMb is < 0 or > MaxMebibytes)
        {
            problems.Add($"--writeback-mb {WritebackMb} must be 0..{MaxMebibytes}");
        }

        return (Math.Clamp(BufferMb, 1, MaxMebibytes) << 20, Math.Clamp(WritebackMb, 0, MaxMebibytes) << 20);
    }

    [Setting(NodeRoles.Both, "the guest RAM carried in snapshots, in KiB")]
    public long RamKb { get; set; } = 4;

    [Setting(NodeRoles.Both, "how checkpoint RAM pages cross the link: zero-runs (each page as its difference from the page it replaces, or itself, as runs of zeros and the bytes between), lz4 (the same, LZ4-compressed) or none (whole); a secondary's none takes pages whole only")]
    public string PageEncoding { get; set; } = "zero-runs";

    [Setting(NodeRoles.Both, "pages each end of the link keeps to send pages as differences against, in MiB (the link uses the smaller of the two nodes'; 0: no differences)")]
    public long PageCacheMb { get; set; } = Protocol.Pages.PageTerms.DefaultCacheBytes >> 20;

    /// <summary><see cref="PageEncoding"/> and <see cref="PageCacheMb"/> as the node's page terms; a problem names the option.</summary>
    public Protocol.Pages.PageTerms PageTerms(List<string> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        if (PageCacheMb is < 0 or > MaxMebibytes)
        {
            problems.Add($"--page-cache-mb {PageCacheMb} must be 0..{MaxMebibytes}");
        }

        Protocol.Pages.PageEncoding encoding = Protocol.Pages.PageEncoding.None;
        switch (PageEncoding)
        {
            case "zero-runs":
                encoding = Protocol.Pages.PageEncoding.ZeroRuns;
                break;
            case "lz4":
                encoding = Protocol.Pages.PageEncoding.Lz4;
                break;
            case "none":
                break;
            default:
                problems.Add($"--page-encoding '{PageEncoding}' must be zero-runs, lz4 or none");
                break;
        }

        return new Protocol.Pages.PageTerms(encoding, Math.Clamp(PageCacheMb, 0, MaxMebibytes) << 20);
    }

    [Setting(NodeRoles.Both, "the virtual machine the node runs while it is a primary: none (the export alone) or qemu (needs --vm-config; a secondary starts it from the checkpoint it takes over)")]
    public string Vm { get; set; } = "none";

    [Setting(NodeRoles.Both, "the VM configuration file (JSON, see docs/vm.md) with --vm qemu; its memoryMiB must equal --ram-kb")]
    public string? VmConfig { get; set; }

    [Setting(NodeRoles.Both, "the largest request (NBD maximum block size), in KiB; both nodes must agree")]
    public int MaxRequestKb { get; set; } = 1024;

    [Setting(NodeRoles.Both, "heartbeat interval on the link, in ms")]
    public int HeartbeatMs { get; set; } = 200;

    [Setting(NodeRoles.Both, "silence on the link after which the peer is lost, in ms")]
    public int HeartbeatTimeoutMs { get; set; } = 2000;

    [Setting(NodeRoles.Both, "a checkpoint unacknowledged this long makes the status Stalled, not Protected, in ms")]
    public int AckTimeoutMs { get; set; } = 2000;

    [Setting(NodeRoles.Secondary, "promote when the primary's heartbeats stop (needs --witness or --fence-command)")]
    public bool AutoFailover { get; set; }

    [Setting(NodeRoles.Both, "HOST:PORT of the pair's witness (replicator witness): a primary then acknowledges guest writes only while it sees a majority, and auto-failover promotes only with the witness's vote")]
    public string? Witness { get; set; }

    [Setting(NodeRoles.Both, "with a witness: how long a lease (the secondary's heartbeat echo, the witness's grant) lets the primary acknowledge guest writes, in ms; shorter than --heartbeat-timeout-ms")]
    public int LeaseMs { get; set; } = 1500;

    [Setting(NodeRoles.Both, "with a witness, what a primary that sees no majority does with guest requests: suspend-io (hold the answers until the majority is back) or io-error (fail them)")]
    public string OnNoQuorum { get; set; } = "suspend-io";

    [Setting(NodeRoles.Secondary, "run with /bin/sh -c before an automatic promotion, the old primary in REPLICATOR_PEER, REPLICATOR_PAIR_ID, REPLICATOR_GENERATION (e.g. a STONITH call); without a witness the promotion waits for it to exit 0")]
    public string? FenceCommand { get; set; }

    [Setting(NodeRoles.Secondary, "how long the fence command may run before it counts as failed, in ms")]
    public int FenceTimeoutMs { get; set; } = 30_000;

    [Setting(NodeRoles.Both, "HOST:PORT on the loopback where Prometheus scrapes the node's metrics at /metrics (off without it)")]
    public string? Metrics { get; set; }

    /// <summary>The witness's address, or null without one; adds a problem when it is not HOST:PORT.</summary>
    public IPEndPoint? WitnessEndPoint(List<string> problems) =>
        string.IsNullOrWhiteSpace(Witness) ? null : ParseEndPoint(Witness, "witness", problems);

    /// <summary><see cref="OnNoQuorum"/> as a policy; adds a problem naming the option when it is neither word.</summary>
    public Hosts.Primary.NoQuorumPolicy NoQuorumPolicy(List<string> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        switch (OnNoQuorum)
        {
            case "suspend-io":
                return Hosts.Primary.NoQuorumPolicy.SuspendIo;
            case "io-error":
                return Hosts.Primary.NoQuorumPolicy.IoError;
            default:
                problems.Add($"--on-no-quorum '{OnNoQuorum}' must be suspend-io or io-error");
                return Hosts.Primary.NoQuorumPolicy.SuspendIo;
        }
    }

    [Setting(NodeRoles.Primary, "run with no secondary (replication off, the guest unprotected)")]
    public bool NoReplication { get; set; }

    [Setting(NodeRoles.Primary, "when the secondary cannot be reached at start, run unprotected and sync it once it is back (make sure it was not promoted)")]
    public bool StartWithoutSecondary { get; set; }

    [Setting(NodeRoles.Both, "copy the whole image over a secondary whose data is not known to be this pair's")]
    public bool AllowFullSync { get; set; }

    [Setting(NodeRoles.Primary, "on the pair's first start, take a blank secondary's image as already equal to this one (both new and zeroed, or copied while stopped): nothing is copied")]
    public bool SkipInitialSync { get; set; }

    [Setting(NodeRoles.Both, "KiB of mirrored writes that may gather on the link before they are sent (the next checkpoint or heartbeat sends them sooner); 0: each write is sent at once")]
    public int MirrorBatchKb { get; set; } = 64;

    [Setting(NodeRoles.Both, "reads of the primary's disk a sync keeps in flight at once")]
    public int SyncReadsInFlight { get; set; } = 4;

    [Setting(NodeRoles.Both, "granularity of the map (and dirty-log bitmap) of regions a sync copies, in KiB (a power of two, 4 to 4096)")]
    public int SyncGranularityKb { get; set; } = 64;

    [Setting(NodeRoles.Both, "a whole-image sync compares each region's checksums with the secondary's first and copies only the regions that differ (for a stale secondary that mostly holds the data)")]
    public bool SyncChecksums { get; set; }

    [Setting(NodeRoles.Both, "the sync's rate limit in MB/s (0: none); `replicator sync-rate` changes it while the primary runs")]
    public int SyncRateMbps { get; set; }

    [Setting(NodeRoles.Both, "4 MiB extents the dirty log keeps hot (a write into another waits for one log write; a crash resyncs at most these plus the bitmap); 0: no dirty log, a crash costs a whole-image sync")]
    public int ActivityLogExtents { get; set; } = 256;

    [Setting(NodeRoles.Both, "first wait before reconnecting to a lost secondary (doubling up to 32 times), in ms; 0 never reconnects")]
    public int ReconnectMs { get; set; } = 250;

    [Setting(NodeRoles.Both, "connections still proving the pair key, at most (while the node is a secondary)")]
    public int MaxPendingLinks { get; set; } = 8;

    [Setting(NodeRoles.Both, "how long a new link has to complete its TLS handshake, in ms")]
    public int LinkHandshakeTimeoutMs { get; set; } = 5000;

    [Setting(NodeRoles.Both, "NBD connections open at once, at most; one more is closed at accept")]
    public int NbdMaxConnections { get; set; } = 64;

    [Setting(NodeRoles.Both, "MiB of NBD requests read but not yet answered, all clients together; past it the server stops reading")]
    public int NbdMaxInFlightMb { get; set; } = 256;

    [Setting(NodeRoles.Both, "MiB of the longest NBD read or write a client may send (the advertised maximum block size); longer ones get EINVAL")]
    public int NbdMaxPayloadMb { get; set; } = NbdServerOptions.DefaultMaxPayloadBytes >> 20;

    [Setting(NodeRoles.Both, "how long an NBD client has to finish its handshake, in ms")]
    public int NbdHandshakeTimeoutMs { get; set; } = 10_000;

    [Setting(NodeRoles.Both, "how long SIGTERM waits for NBD clients to take their replies, in ms (under 5000, so the last checkpoint fits the stop)")]
    public int NbdStopTimeoutMs { get; set; } = 3000;

    [Setting(NodeRoles.Secondary, "fail over at start from the last checkpoint that verifies, discarding what a damaged journal holds beyond it")]
    public bool FailoverDiscardingUnverifiableEpochs { get; set; }

    /// <summary>The NBD export's options at <paramref name="endPoint"/>; adds a problem for each limit out of range.</summary>
    public NbdServerOptions NbdOptions(EndPoint endPoint, List<string> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        if (NbdMaxConnections < 1)
        {
            problems.Add($"--nbd-max-connections {NbdMaxConnections} must be at least 1");
        }

        if (NbdMaxInFlightMb < 1)
        {
            problems.Add($"--nbd-max-in-flight-mb {NbdMaxInFlightMb} must be at least 1");
        }

        if (NbdMaxPayloadMb is < 1 or > (NbdServerOptions.MaxPayloadLimit >> 20))
        {
            problems.Add($"--nbd-max-payload-mb {NbdMaxPayloadMb} must be 1..{(NbdServerOptions.MaxPayloadLimit >> 20)}");
        }

        if (NbdHandshakeTimeoutMs < 1)
        {
            problems.Add($"--nbd-handshake-timeout-ms {NbdHandshakeTimeoutMs} must be positive");
        }

        if (NbdStopTimeoutMs is < 1 or >= 5000)
        {
            problems.Add($"--nbd-stop-timeout-ms {NbdStopTimeoutMs} must be 1..4999: the last checkpoint (up to 5 s) must fit in the 10 s a stop is given");
        }

        return new NbdServerOptions
        {
            EndPoint = endPoint,
            MaxConnections = NbdMaxConnections,
            MaxTotalInFlightBytes = (long)NbdMaxInFlightMb << 20,
            MaxPayloadBytes = Math.Clamp(NbdMaxPayloadMb, 1, (NbdServerOptions.MaxPayloadLimit >> 20)) << 20,
            NegotiationTimeout = TimeSpan.FromMilliseconds(NbdHandshakeTimeoutMs),
            StopTimeout = TimeSpan.FromMilliseconds(NbdStopTimeoutMs),
        };
    }

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

    /// <summary>
    /// Parses <c>--nbd</c>: <c>unix:PATH</c>, a Unix socket (a relative path is made absolute here,
    /// against the working directory, so logs and status name the file wherever the daemon runs), or
    /// HOST:PORT as <see cref="ParseEndPoint"/> takes it. Adds a problem and returns null otherwise.
    /// </summary>
    public static EndPoint? ParseNbdEndPoint(string? value, List<string> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        if (string.IsNullOrWhiteSpace(value))
        {
            problems.Add($"--nbd {NbdForms} is required");
            return null;
        }

        if (!value.StartsWith(NbdEndPoints.UnixPrefix, StringComparison.Ordinal))
        {
            if (ParseEndPoint(value, "nbd", []) is { } endPoint)
            {
                return endPoint;
            }

            problems.Add($"--nbd '{value}' is neither HOST:PORT (an IP address and port, e.g. 127.0.0.1:10809) nor unix:PATH (a socket file, e.g. unix:/run/replicator/disk.sock)");
            return null;
        }

        string path = value[NbdEndPoints.UnixPrefix.Length..];
        if (string.IsNullOrWhiteSpace(path))
        {
            problems.Add($"--nbd '{value}' names no socket file: unix:PATH, e.g. unix:/run/replicator/disk.sock");
            return null;
        }

        string fullPath = Path.GetFullPath(path);
        if (NbdEndPoints.UnixSocketPathProblem(fullPath) is { } problem)
        {
            problems.Add($"--nbd '{value}': {problem}");
            return null;
        }

        return NbdEndPoints.UnixSocket(fullPath);
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
