using Replicator.Core.Testing;
using Replicator.Protocol.Messages;
using Replicator.Protocol.Pages;

namespace Replicator.Hosts.Primary;

/// <summary>What the primary's host decides with: the pair's identity and the link's timings.</summary>
public sealed record PrimaryHostOptions
{
    public required string PairId { get; init; }

    /// <summary>The primary's image size: part of the pair's identity.</summary>
    public required long ImageBytes { get; init; }

    public int BlockSize { get; init; } = 4096;

    public int MaxRequestBytes { get; init; } = 1 << 20;

    /// <summary>The secondary as operators name it in messages (its address).</summary>
    public string Peer { get; init; } = "the secondary";

    /// <summary>The image as operators name it in messages (its path).</summary>
    public string ImageName { get; init; } = "the image";

    /// <summary>
    /// Where the host's instruments go (<see cref="PrimaryMetrics"/>): the shell's meter, which it
    /// disposes with the node; null (the simulator, most tests) measures nothing.
    /// </summary>
    public System.Diagnostics.Metrics.Meter? Meter { get; init; }

    /// <summary>No secondary: the engine starts degraded and no link is ever opened.</summary>
    public bool Unreplicated { get; init; }

    /// <summary>A link silent this long is lost; a connect or a hello unanswered this long fails.</summary>
    public TimeSpan HeartbeatTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>A checkpoint unacknowledged for longer than this means the pair is not protected (status Stalled).</summary>
    public TimeSpan AckTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The first wait before reconnecting; each attempt doubles it up to <see cref="ReconnectMaxDelay"/>. Zero: never reconnect.</summary>
    public TimeSpan ReconnectDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(8);

    /// <summary>How this primary offers to send checkpoint pages (<see cref="PageTerms"/>): the secondary's welcome says what the link uses.</summary>
    public PageTerms PageTerms { get; init; } = PageTerms.Default;

    /// <summary>Checkpoints sent and not yet acknowledged before the engine holds the next one back.</summary>
    public int MaxUnacknowledgedCheckpoints { get; init; } = 4;

    /// <summary>
    /// The protocol version the hello announces: always this build's in production. The simulator
    /// sets another to stand in for an older or newer daemon, which the secondary must refuse.
    /// </summary>
    public int ProtocolVersion { get; init; } = Handshake.ProtocolVersion;

    /// <summary>A deliberate engine bug the simulator must catch (never set in production).</summary>
    public PlantedBug Plant { get; init; }

    /// <summary>
    /// The secondary cannot be reached at start: run anyway, unprotected, tracking what the secondary
    /// will need, and keep trying to reach it. Off by default: without a witness nothing tells this
    /// primary that the secondary was not promoted meanwhile (two writers).
    /// </summary>
    public bool StartWithoutSecondary { get; init; }

    /// <summary>
    /// This primary runs in a node that was promoted as a secondary (<c>replicator secondary</c>
    /// after a failover): the node stays primary across restarts of that daemon. False for
    /// <c>replicator primary</c>, which makes the role the operator's choice from then on.
    /// </summary>
    public bool RunsPromotedNode { get; init; }

    /// <summary>
    /// A promoted node's committed epochs still draining into the image when this primary starts:
    /// a guest write overlapping one of them waits until the drain is durable (the shell reads
    /// through it, and reports <see cref="PrimaryHost.OnTakeoverDrained"/> when it closes). Null
    /// when the image alone holds the checkpoint.
    /// </summary>
    public Core.Secondary.CommittedOverlay? Takeover { get; init; }

    /// <summary>
    /// The guest's pause is reported later, by <see cref="PrimaryHost.OnGuestPaused"/>: a real
    /// hypervisor, whose stop waits for guest requests that must still be admitted meanwhile.
    /// </summary>
    public bool GuestPausesLater { get; init; }

    /// <summary>The operator allows copying the whole image over a secondary whose data is not known to be this pair's.</summary>
    public bool AllowFullSync { get; init; }

    /// <summary>
    /// The operator vouches that a blank secondary's image already equals this primary's (both new
    /// and zeroed, or copied while both were stopped): on the pair's first start nothing is copied.
    /// </summary>
    public bool SkipInitialSync { get; init; }

    /// <summary>Reads of the primary's disk a sync keeps in flight at once: with the granularity, the sync's two knobs.</summary>
    public int MaxSyncReadsInFlight { get; init; } = 4;

    /// <summary>
    /// Granularity of the map of regions the secondary may lack, in memory and in the dirty log's
    /// bitmap: what a resync copies at least (64 KiB, as drive-mirror uses for raw images).
    /// </summary>
    public int DirtyRegionBytes { get; init; } = 64 << 10;

    /// <summary>A whole-image sync compares each region's checksums first and copies only what differs (a stale secondary).</summary>
    public bool SyncChecksums { get; init; }

    /// <summary>The sync's rate limit in bytes per second (0: none); <see cref="PrimaryHost.SetSyncRate"/> changes it while it runs.</summary>
    public long SyncBytesPerSecond { get; init; }

    /// <summary>Extents the dirty log's activity log keeps hot at once (0: no dirty log; a crash then costs a whole-image sync).</summary>
    public int ActivityLogExtents { get; init; } = 256;

    /// <summary>
    /// The witness, when the pair has one: from then on this primary acknowledges a guest request
    /// only while it sees a majority for its generation (its secondary following it, or the
    /// witness's lease); its <see cref="Witness.WitnessSessionOptions.Lease"/> is also how long an
    /// echoed heartbeat probe counts as the secondary's lease. Null: the two-node rules, where
    /// failover is the operator's or a fence command's.
    /// </summary>
    public Witness.WitnessSessionOptions? Witness { get; init; }

    /// <summary>What happens to guest requests answered while no majority is seen.</summary>
    public NoQuorumPolicy NoQuorum { get; init; } = NoQuorumPolicy.SuspendIo;

    /// <summary>The activity log's extent: a write into an extent not hot waits for one durable log write.</summary>
    public int ActivityExtentBytes { get; init; } = 4 << 20;
}
