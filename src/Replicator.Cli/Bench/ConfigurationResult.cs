namespace Replicator.Cli.Bench;

/// <summary>
/// One configuration's figures as <c>bench --json</c> writes them (camelCase): the configuration,
/// the headline latencies with their floor, throughput with replication on and off, allocations,
/// and the details behind them. Latencies in microseconds, sizes in bytes, rates in MB/s (10^6).
/// </summary>
internal sealed record ConfigurationResult
{
    public required int EpochMs { get; init; }

    public required long DirtyDiskBytes { get; init; }

    public required long DirtyRamBytes { get; init; }

    public required int WriteSize { get; init; }

    /// <summary>The link ran plain (<c>--insecure-link</c>); otherwise TLS 1.3 with the pair key.</summary>
    public bool PlainLink { get; init; }

    /// <summary>Checkpoint start on the primary → acknowledgement received, over the paced run.</summary>
    public required Percentiles CommitUs { get; init; }

    /// <summary>Admission stopped → resumed, per checkpoint, over the paced run.</summary>
    public required PausePercentiles PauseUs { get; init; }

    /// <summary>RTT + this configuration's wire bytes per epoch / link bandwidth + fdatasync of an overwrite.</summary>
    public required double FloorUs { get; init; }

    public required double ReplicatedMBps { get; init; }

    public required double UnreplicatedMBps { get; init; }

    /// <summary>The unreplicated primary flushing its image every epoch: the durability the replicated run gets, without the secondary.</summary>
    public required double UnreplicatedFlushedMBps { get; init; }

    /// <summary>Bytes the primary process allocated per completed write over the paced run (everything in the process: guest, harness, checkpoints).</summary>
    public required double AllocBytesPerWrite { get; init; }

    /// <summary>The part of <see cref="AllocBytesPerWrite"/> that is the guest's dirty RAM pages copied at capture (4 KiB per page).</summary>
    public required double RamCopyBytesPerWrite { get; init; }

    /// <summary>Flushes per second the flushed unreplicated run completed (about one per epoch, fewer when fdatasync takes longer than an epoch).</summary>
    public required double UnreplicatedFlushesPerSecond { get; init; }

    /// <summary>Replicated against unreplicated (page cache only).</summary>
    public required double ThroughputRatio { get; init; }

    /// <summary>Replicated against unreplicated with a flush per epoch: the same durability.</summary>
    public required double FlushedThroughputRatio { get; init; }

    public required double CommitP50ToFloor { get; init; }

    public required double CommitP99ToFloor { get; init; }

    public required long Checkpoints { get; init; }

    public required double CheckpointsPerSecond { get; init; }

    public required double AchievedDirtyDiskBytes { get; init; }

    public required double AchievedDirtyRamBytes { get; init; }

    public required double WireBytesPerEpoch { get; init; }

    public required long BufferPeakBytes { get; init; }

    /// <summary>p50 and p99 of each phase: drain, capture, link, queue, journalWrite, flush, ack (the commit path) and apply (after it).</summary>
    public required IReadOnlyDictionary<string, PhasePercentiles> PhasesUs { get; init; }

    /// <summary>The link phase against its floor (RTT + wire bytes / bandwidth), at the median.</summary>
    public required double LinkP50ToFloor { get; init; }

    /// <summary>The journal flush against an fdatasync of an overwrite, at the median.</summary>
    public required double FlushP50ToFloor { get; init; }

    /// <summary>Guest write latency (submitted → completed): paced replicated, and closed loop replicated, unreplicated and unreplicated with a flush per epoch.</summary>
    public required IReadOnlyDictionary<string, PhasePercentiles> WriteUs { get; init; }

    /// <summary>Allocated bytes per write in the closed-loop runs, replicated and unreplicated.</summary>
    public required IReadOnlyDictionary<string, double> ClosedLoopAllocBytesPerWrite { get; init; }

    /// <summary>What replication adds per write: closed loop, replicated minus unreplicated.</summary>
    public required double ReplicationAllocBytesPerWrite { get; init; }

    /// <summary>Garbage collections per generation (0, 1, 2): the paced run, and the closed-loop runs.</summary>
    public required IReadOnlyDictionary<string, int[]> GcCollections { get; init; }

    /// <summary>The floor's parts, measured in the same run.</summary>
    public required Floor Floor { get; init; }

    public static ConfigurationResult From(BenchConfiguration configuration, Floor floor, PrimaryRunResult replicated, PrimaryRunResult unreplicated, PrimaryRunResult unreplicatedFlushed)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(floor);
        ArgumentNullException.ThrowIfNull(replicated);
        ArgumentNullException.ThrowIfNull(unreplicated);
        ArgumentNullException.ThrowIfNull(unreplicatedFlushed);
        PacedRun paced = replicated.Paced ?? throw new InvalidDataException("the replicated run has no paced part");
        ClosedLoopRun on = replicated.Closed, off = unreplicated.Closed, flushed = unreplicatedFlushed.Closed;
        double epochs = Math.Max(1, paced.Checkpoints);
        double wirePerEpoch = paced.WireBytes / epochs;
        double floorUs = floor.FloorUs(wirePerEpoch);
        double onAlloc = PerWrite(on.Cost.AllocatedBytes, on.Writes), offAlloc = PerWrite(off.Cost.AllocatedBytes, off.Writes);
        return new ConfigurationResult
        {
            EpochMs = configuration.EpochMs,
            PlainLink = configuration.PlainLink,
            DirtyDiskBytes = configuration.DirtyDiskBytes,
            DirtyRamBytes = configuration.DirtyRamBytes,
            WriteSize = configuration.WriteSize,
            CommitUs = new Percentiles(paced.Commit.P50, paced.Commit.P90, paced.Commit.P99, paced.Commit.P999, paced.Commit.Max),
            PauseUs = new PausePercentiles(paced.Pause.P50, paced.Pause.P99, paced.Pause.Max),
            FloorUs = Math.Round(floorUs, 1),
            ReplicatedMBps = Math.Round(on.MegabytesPerSecond, 1),
            UnreplicatedMBps = Math.Round(off.MegabytesPerSecond, 1),
            UnreplicatedFlushedMBps = Math.Round(flushed.MegabytesPerSecond, 1),
            UnreplicatedFlushesPerSecond = Math.Round(unreplicatedFlushed.Flushes / Math.Max(flushed.Seconds, 1e-9), 1),
            AllocBytesPerWrite = Math.Round(PerWrite(paced.Cost.AllocatedBytes, paced.Writes), 1),
            RamCopyBytesPerWrite = Math.Round(PerWrite(paced.RamPages * 4096, paced.Writes), 1),
            ThroughputRatio = Ratio(on.MegabytesPerSecond, off.MegabytesPerSecond),
            FlushedThroughputRatio = Ratio(on.MegabytesPerSecond, flushed.MegabytesPerSecond),
            CommitP50ToFloor = Ratio(paced.Commit.P50, floorUs),
            CommitP99ToFloor = Ratio(paced.Commit.P99, floorUs),
            Checkpoints = paced.Checkpoints,
            CheckpointsPerSecond = Math.Round(paced.Checkpoints / paced.Seconds, 1),
            AchievedDirtyDiskBytes = Math.Round(paced.DiskBytes / epochs),
            AchievedDirtyRamBytes = Math.Round(paced.RamPages * 4096.0 / epochs),
            WireBytesPerEpoch = Math.Round(wirePerEpoch),
            BufferPeakBytes = paced.BufferPeakBytes,
            PhasesUs = paced.Phases.ToDictionary(p => p.Key, p => new PhasePercentiles(p.Value.P50, p.Value.P99)),
            LinkP50ToFloor = Ratio(paced.Phases["link"].P50, floor.LinkFloorUs(wirePerEpoch)),
            FlushP50ToFloor = Ratio(paced.Phases["flush"].P50, floor.FdatasyncUs),
            WriteUs = new Dictionary<string, PhasePercentiles>
            {
                ["pacedReplicated"] = new(paced.WriteLatency.P50, paced.WriteLatency.P99),
                ["closedReplicated"] = new(on.WriteLatency.P50, on.WriteLatency.P99),
                ["closedUnreplicated"] = new(off.WriteLatency.P50, off.WriteLatency.P99),
                ["closedUnreplicatedFlushed"] = new(flushed.WriteLatency.P50, flushed.WriteLatency.P99),
            },
            ClosedLoopAllocBytesPerWrite = new Dictionary<string, double> { ["replicated"] = Math.Round(onAlloc, 1), ["unreplicated"] = Math.Round(offAlloc, 1) },
            ReplicationAllocBytesPerWrite = Math.Round(onAlloc - offAlloc, 1),
            GcCollections = new Dictionary<string, int[]>
            {
                ["paced"] = [paced.Cost.Gen0, paced.Cost.Gen1, paced.Cost.Gen2],
                ["closedReplicated"] = [on.Cost.Gen0, on.Cost.Gen1, on.Cost.Gen2],
                ["closedUnreplicated"] = [off.Cost.Gen0, off.Cost.Gen1, off.Cost.Gen2],
            },
            Floor = floor,
        };
    }

    private static double PerWrite(long bytes, long writes) => writes == 0 ? 0 : (double)bytes / writes;

    private static double Ratio(double value, double reference) => reference <= 0 ? 0 : Math.Round(value / reference, 2);
}

internal sealed record Percentiles(double P50, double P90, double P99, double P999, double Max);

internal sealed record PausePercentiles(double P50, double P99, double Max);

internal sealed record PhasePercentiles(double P50, double P99);
