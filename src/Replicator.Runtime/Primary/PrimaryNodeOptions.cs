using System.Net;

namespace Replicator.Runtime.Primary;

/// <summary>What a primary node needs to run. Validated by <see cref="Validate"/> before anything opens.</summary>
public sealed record PrimaryNodeOptions
{
    public required string ImagePath { get; init; }

    public required string StateDirectory { get; init; }

    public required IPEndPoint Peer { get; init; }

    /// <summary>
    /// Run the write filter with no secondary: the same engine and local I/O path, with replication
    /// off from the start (reported as degraded: the guest is unprotected). <see cref="Peer"/> is
    /// not contacted. For baselines and for serving a disk that does not need protection.
    /// </summary>
    public bool Unreplicated { get; init; }

    /// <summary>See <see cref="Hosts.Primary.PrimaryHostOptions.StartWithoutSecondary"/>.</summary>
    public bool StartWithoutSecondary { get; init; }

    /// <summary>See <see cref="Hosts.Primary.PrimaryHostOptions.RunsPromotedNode"/>.</summary>
    public bool RunsPromotedNode { get; init; }

    /// <summary>See <see cref="Hosts.Primary.PrimaryHostOptions.AllowFullSync"/>.</summary>
    public bool AllowFullSync { get; init; }

    /// <summary>See <see cref="Hosts.Primary.PrimaryHostOptions.SkipInitialSync"/>.</summary>
    public bool SkipInitialSync { get; init; }

    /// <summary>Reads of the primary's disk a sync keeps in flight (<c>--sync-reads-in-flight</c>).</summary>
    public int SyncReadsInFlight { get; init; } = 4;

    /// <summary>The granularity of the map of regions a sync copies (<c>--sync-granularity-kb</c>).</summary>
    public int SyncGranularityBytes { get; init; } = 64 << 10;

    /// <summary>A whole-image sync compares checksums first and copies only what differs (<c>--sync-checksums</c>).</summary>
    public bool SyncChecksums { get; init; }

    /// <summary>The sync's rate limit in MB/s (<c>--sync-rate-mbps</c>; 0: none); <c>replicator sync-rate</c> changes it while it runs.</summary>
    public int SyncRateMBps { get; init; }

    /// <summary>Extents of 4 MiB the dirty log keeps hot (<c>--activity-log-extents</c>; 0: no dirty log).</summary>
    public int ActivityLogExtents { get; init; } = 256;

    public required string PairId { get; init; }

    /// <summary>The pair key the link is authenticated and encrypted with; null only with <see cref="InsecureLink"/> (or without replication).</summary>
    public Links.LinkKey? LinkKey { get; init; }

    /// <summary>Run the link as plain TCP, unauthenticated and unencrypted. Never the default.</summary>
    public bool InsecureLink { get; init; }

    /// <summary>How long the secondary has to complete the TLS handshake after the connect.</summary>
    public TimeSpan LinkHandshakeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public int BlockSize { get; init; } = 4096;

    public int MaxRequestBytes { get; init; } = 1 << 20;

    public TimeSpan EpochInterval { get; init; } = TimeSpan.FromMilliseconds(25);

    public long RamBytes { get; init; } = 16L << 20;

    public int PageSize { get; init; } = 4096;

    /// <summary>How checkpoint pages cross the link (see <see cref="Hosts.Primary.PrimaryHostOptions.PageTerms"/>).</summary>
    public Protocol.Pages.PageTerms PageTerms { get; init; } = Protocol.Pages.PageTerms.Default;

    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan HeartbeatTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>A checkpoint unacknowledged for longer than this makes the status say Stalled, not Protected.</summary>
    public TimeSpan AckTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The first wait before reconnecting to a lost secondary; each failed attempt doubles it, up to
    /// 32 times this. Zero: never reconnect (the primary stays degraded until restarted).
    /// </summary>
    public TimeSpan ReconnectDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    public TimeSpan ReconnectMaxDelay => ReconnectDelay * 32;

    /// <summary>The pair's witness (<c>--witness</c>): with one, guest requests are acknowledged only while a majority is seen.</summary>
    public IPEndPoint? Witness { get; init; }

    /// <summary>How long a lease (the secondary's echo, the witness's grant) lets guest requests be acknowledged (<c>--lease-ms</c>).</summary>
    public TimeSpan QuorumLease { get; init; } = TimeSpan.FromMilliseconds(1500);

    /// <summary>What happens to guest requests while no majority is seen (<c>--on-no-quorum</c>).</summary>
    public Hosts.Primary.NoQuorumPolicy NoQuorum { get; init; } = Hosts.Primary.NoQuorumPolicy.SuspendIo;

    /// <summary>The most that <c>--mirror-batch-kb</c> takes: a batch larger than this would only delay the records behind it.</summary>
    public const int MaxMirrorBatchBytes = 1 << 20;

    /// <summary>
    /// Mirror bytes that may gather on the link before they are sent (<c>--mirror-batch-kb</c>); the
    /// next checkpoint or heartbeat sends them sooner. 0: each record is sent at once.
    /// </summary>
    public int MirrorBatchBytes { get; init; } = 64 << 10;

    /// <summary>Local I/O requests run at once on the image (the guest's queue depth reaches the disk).</summary>
    public int LocalIoWorkers { get; init; } = 4;

    /// <summary>
    /// In a node just promoted, the committed epochs still draining into the image: the node serves
    /// through them, and writes overlapping them wait until the drain is durable. Null otherwise.
    /// </summary>
    public Replicator.Core.Secondary.CommittedOverlay? Takeover { get; init; }

    /// <summary>
    /// The VM's <see cref="Core.Vm.IVirtualMachine.Pause"/> blocks until the guest's requests in
    /// flight are done (a real hypervisor): it runs off the node's loop, which goes on admitting
    /// those requests, and its end is posted back.
    /// </summary>
    public bool GuestPausesLater { get; init; }

    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        NodeOptionChecks.Common(problems, ImagePath, PairId, BlockSize, MaxRequestBytes, RamBytes, PageSize, HeartbeatInterval, HeartbeatTimeout);
        if (!Unreplicated)
        {
            NodeOptionChecks.Link(problems, LinkKey, InsecureLink);
        }

        if (EpochInterval < TimeSpan.FromMilliseconds(1))
        {
            problems.Add($"epoch interval {EpochInterval.TotalMilliseconds} ms must be at least 1 ms");
        }

        if (ReconnectDelay < TimeSpan.Zero)
        {
            problems.Add($"reconnect delay {ReconnectDelay.TotalMilliseconds} ms must be 0 (never) or more");
        }

        if (AckTimeout <= TimeSpan.Zero)
        {
            problems.Add($"acknowledgement bound {AckTimeout.TotalMilliseconds} ms must be positive");
        }

        if (Witness is not null && (QuorumLease <= TimeSpan.Zero || QuorumLease >= HeartbeatTimeout))
        {
            problems.Add($"--lease-ms {QuorumLease.TotalMilliseconds} must be positive and shorter than the heartbeat timeout ({HeartbeatTimeout.TotalMilliseconds} ms): the secondary may promote once that has run");
        }

        if (MirrorBatchBytes is < 0 or > MaxMirrorBatchBytes)
        {
            problems.Add($"--mirror-batch-kb {MirrorBatchBytes / 1024} must be between 0 (each record sent at once) and {MaxMirrorBatchBytes / 1024}");
        }

        if (LocalIoWorkers < 1)
        {
            problems.Add("at least one local I/O worker is needed");
        }

        if (SyncReadsInFlight is < 1 or > 1024)
        {
            problems.Add($"--sync-reads-in-flight {SyncReadsInFlight} must be between 1 and 1024");
        }

        if (SyncGranularityBytes < 4096 || (SyncGranularityBytes & (SyncGranularityBytes - 1)) != 0 || SyncGranularityBytes > (4 << 20))
        {
            problems.Add($"--sync-granularity-kb {SyncGranularityBytes / 1024} must be a power of two from 4 to 4096 (the dirty log's extent)");
        }

        if (SyncRateMBps < 0)
        {
            problems.Add($"--sync-rate-mbps {SyncRateMBps} must be 0 (no limit) or more");
        }

        if (ActivityLogExtents != 0 && ActivityLogExtents is < 2 or > Hosts.Storage.DirtyLogFile.MaxActiveExtents)
        {
            problems.Add($"--activity-log-extents {ActivityLogExtents} must be 0 (no dirty log) or between 2 and {Hosts.Storage.DirtyLogFile.MaxActiveExtents}");
        }

        return problems;
    }
}
