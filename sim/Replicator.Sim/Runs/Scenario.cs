using Replicator.Core.Guest;
using Replicator.Core.Testing;
using Replicator.Protocol.Pages;
using Replicator.Sim.Faults;
using Replicator.Sim.Network;
using Replicator.Sim.Storage;

namespace Replicator.Sim.Runs;

/// <summary>
/// Everything one run is made of, drawn from its seed: the workload, the network, the disks, the
/// pair's settings and the fault schedule. Shrinking edits a scenario (fewer faults, a shorter
/// run) and runs it again with the same seed.
/// </summary>
internal sealed record Scenario
{
    public required long Seed { get; init; }

    public required long DurationUs { get; init; }

    public required long EpochUs { get; init; }

    public required SyntheticGuestOptions Guest { get; init; }

    public required int QueueDepth { get; init; }

    /// <summary>Mean time between the guest's requests while it runs.</summary>
    public required long ThinkUs { get; init; }

    public required double OutputProbability { get; init; }

    public required long SecondaryBufferBytes { get; init; }

    /// <summary>Committed bytes the secondary may hold for its write-back with their credit returned (0: credit waits for the write-back).</summary>
    public long SecondaryWritebackBytes { get; init; }

    public required int MaxUnacknowledgedCheckpoints { get; init; }

    public required long CaptureUs { get; init; }

    public required NetworkProfile Network { get; init; }

    public required DiskProfile PrimaryDisk { get; init; }

    public required DiskProfile SecondaryDisk { get; init; }

    public required DiskProfile JournalDisk { get; init; }

    public required long HeartbeatUs { get; init; }

    public required long HeartbeatTimeoutUs { get; init; }

    public required bool AutoFailover { get; init; }

    /// <summary>
    /// A third host, the witness, that the primary's leases and the secondary's automatic promotion
    /// go through (drawn with auto-failover only); its links are cut and it crashes on the seed's schedule.
    /// </summary>
    public bool Witness { get; init; }

    /// <summary>
    /// Auto-failover without a witness goes through a fence command, as the daemon requires: a
    /// simulated STONITH that powers the primary's host off after <see cref="FenceUs"/>, failing
    /// (and retried by the host) with probability <see cref="FenceFailureRate"/>. 0: no fence command.
    /// </summary>
    public long FenceUs { get; init; }

    public double FenceFailureRate { get; init; }

    /// <summary>The primary's first wait before reconnecting to a lost secondary; it doubles up to 32 times while attempts fail.</summary>
    public required long ReconnectUs { get; init; }

    public required IReadOnlyList<Fault> Faults { get; init; }

    public PlantedBug Plant { get; init; }

    /// <summary>The secondary journal's compaction threshold: small, so that applies lagging behind commits compact it and power cuts land inside.</summary>
    public long JournalSwitchAboveBytes { get; init; } = 16 * 1024;

    /// <summary>The secondary journal's staging buffer: small, so that the guest's small writes fill it and take the direct path for large payloads too.</summary>
    public int JournalStagingBytes { get; init; } = 16 * 1024;

    /// <summary>How the node that is primary offers to send checkpoint pages (the promoted one too).</summary>
    public PageTerms PrimaryPageTerms { get; init; } = PageTerms.Default;

    /// <summary>What the node that is secondary takes, and the cache it keeps, for checkpoint pages.</summary>
    public PageTerms SecondaryPageTerms { get; init; } = PageTerms.Default;

    /// <summary>
    /// The secondary's image starts as other bytes than the primary's and its node holds no data
    /// generation: the pair forms by a full sync while the guest writes. Otherwise both disks start
    /// equal and the primary vouches for it (--skip-initial-sync).
    /// </summary>
    public bool BlankSecondary { get; init; }

    /// <summary>The primary's dirty log: its bitmap's region, its activity log's extent, and how many extents it keeps hot (0: no log).</summary>
    public int DirtyRegionBytes { get; init; } = 4096;

    public int ActivityExtentBytes { get; init; } = 16 * 1024;

    public int ActivityLogExtents { get; init; } = 4;

    /// <summary>
    /// The primary may start without its secondary (<c>--start-without-secondary</c>), and the
    /// secondary's daemon comes up <see cref="SecondaryStartDelayUs"/> after the primary's: the
    /// primary serves unprotected meanwhile, in a generation of its own, and syncs the secondary once it answers.
    /// </summary>
    public bool StartWithoutSecondary { get; init; }

    public long SecondaryStartDelayUs { get; init; }

    /// <summary>A whole-image sync compares checksums before it copies.</summary>
    public bool SyncChecksums { get; init; }

    /// <summary>When an operator runs <c>replicator verify</c> (and whether with <c>--repair</c>): a protected pair must find both images equal.</summary>
    public IReadOnlyList<(long At, bool Repair)> Verifies { get; init; } = [];

    /// <summary>
    /// After the final failover the old primary comes back as a secondary of the promoted node,
    /// which runs as a primary (failback), and must end with both images equal.
    /// </summary>
    public bool FailBack { get; init; }

    /// <summary>
    /// At the end the operator switches over instead of failing over: the old primary follows the
    /// node that took over, as after a failback. Takes the place of <see cref="FailBack"/>.
    /// </summary>
    public bool SwitchOver { get; init; }

    /// <summary>The network resets the link this long after the switchover is asked (0: it does not).</summary>
    public long SwitchOverResetUs { get; init; }

    /// <summary>During the failback the old primary's host loses power this long after it starts (0: it does not), then comes back.</summary>
    public long FailBackPowerCutUs { get; init; }

    /// <summary>How long a pair with both hosts up may go without committing an epoch once no fault is active (liveness).</summary>
    public long LivenessBoundUs =>
        8 * EpochUs + 20 * (Network.LatencyUs + Network.JitterUs + Network.RetransmitTimeoutUs)
        + (long)(3 * SecondaryBufferBytes / Network.BytesPerUs) + 50_000
        + 64 * ReconnectUs + 4 * HeartbeatTimeoutUs + (long)(4 * Guest.DiskBytes / Network.BytesPerUs);

    public string Describe() =>
        $"seed {Seed}: {DurationUs / 1000} ms, epoch {EpochUs / 1000.0:F1} ms, disk {Guest.DiskBytes / 1024} KiB, writes up to {Guest.MaxWriteBytes / 1024} KiB, depth {QueueDepth}, " +
        $"buffer {SecondaryBufferBytes / 1024} KiB + write-back {SecondaryWritebackBytes / 1024} KiB, {Network.Mode} link {Network.LatencyUs}±{Network.JitterUs} µs {Network.BytesPerUs:F0} B/µs loss {Network.LossRate:P1} dup {Network.DuplicateRate:P1} corrupt {Network.CorruptionRate:P2}, " +
        $"heartbeat {HeartbeatUs / 1000.0:F1}/{HeartbeatTimeoutUs / 1000.0:F1} ms, reconnect {ReconnectUs / 1000.0:F1} ms, journal switching files above {JournalSwitchAboveBytes / 1024} KiB, staging {JournalStagingBytes} B, pages {PrimaryPageTerms.Encoding} with {PrimaryPageTerms.CacheBytes / 1024} KiB cached (the secondary's: {SecondaryPageTerms.Encoding}, {SecondaryPageTerms.CacheBytes / 1024} KiB){(BlankSecondary ? ", blank secondary" : string.Empty)}{(Verifies.Count > 0 ? $", {Verifies.Count} verifies" : string.Empty)}{(SwitchOver ? $", switchover{(SwitchOverResetUs > 0 ? $" (link reset {SwitchOverResetUs / 1000.0:F1} ms in)" : string.Empty)}" : string.Empty)}{(FailBack && !SwitchOver ? $", failback{(FailBackPowerCutUs > 0 ? $" (old primary's power cut at {FailBackPowerCutUs / 1000.0:F1} ms)" : string.Empty)}" : string.Empty)}{(SyncChecksums ? ", sync checksums" : string.Empty)}{(StartWithoutSecondary ? $", primary starts alone, secondary {SecondaryStartDelayUs / 1000.0:F1} ms later" : string.Empty)}, dirty log {(ActivityLogExtents == 0 ? "off" : $"{ActivityLogExtents} x {ActivityExtentBytes / 1024} KiB extents of {DirtyRegionBytes / 1024} KiB regions")}{(AutoFailover ? Witness ? ", auto-failover with a witness" : FenceUs > 0 ? $", auto-failover fencing in {FenceUs / 1000.0:F1} ms ({FenceFailureRate:P0} failing)" : ", auto-failover" : string.Empty)}{(Plant == PlantedBug.None ? string.Empty : $", planted {Plant}")}";
}
