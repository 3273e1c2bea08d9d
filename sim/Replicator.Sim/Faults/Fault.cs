namespace Replicator.Sim.Faults;

/// <summary>One injected fault: what, when (virtual µs from the start), and its parameters.</summary>
internal sealed record Fault(FaultKind Kind, long At, long Duration = 0, int Variant = 0)
{
    public override string ToString() => Kind switch
    {
        FaultKind.PrimaryCrash => $"{At / 1000.0:F3} ms primary crash ({(PrimaryCrashPoint)Variant})",
        FaultKind.SecondaryPowerCut => $"{At / 1000.0:F3} ms secondary power cut ({(SecondaryCutPoint)Variant}), restart after {Duration / 1000.0:F3} ms",
        FaultKind.SecondaryCrash => $"{At / 1000.0:F3} ms secondary process killed, restart after {Duration / 1000.0:F3} ms",
        FaultKind.PrimaryPause => $"{At / 1000.0:F3} ms primary paused for {Duration / 1000.0:F3} ms",
        FaultKind.FailoverCommand => $"{At / 1000.0:F3} ms operator fails over",
        FaultKind.Partition => $"{At / 1000.0:F3} ms partition {(PartitionDirection)Variant} for {Duration / 1000.0:F3} ms",
        FaultKind.WitnessPartition => $"{At / 1000.0:F3} ms the witness cut off from {(Variant == 0 ? "the primary" : Variant == 1 ? "the secondary" : "both nodes")} for {Duration / 1000.0:F3} ms",
        FaultKind.WitnessCrash => $"{At / 1000.0:F3} ms the witness {(Variant == 1 ? "loses power" : "crashes")}, back after {Duration / 1000.0:F3} ms",
        FaultKind.SecondaryPause => $"{At / 1000.0:F3} ms secondary paused for {Duration / 1000.0:F3} ms",
        FaultKind.WitnessPause => $"{At / 1000.0:F3} ms witness paused for {Duration / 1000.0:F3} ms",
        FaultKind.ConnectionReset => Variant == 0
            ? $"{At / 1000.0:F3} ms connection reset"
            : $"{At / 1000.0:F3} ms connection reset as the secondary begins journalling an epoch, its journal disk slow for {Duration / 1000.0:F3} ms",
        FaultKind.CorruptFrame => $"{At / 1000.0:F3} ms next frame {(Variant == 0 ? "to the secondary" : "to the primary")} corrupted",
        FaultKind.NetworkDelaySpike => $"{At / 1000.0:F3} ms network delay spike of {Variant} µs for {Duration / 1000.0:F3} ms",
        FaultKind.DiskErrors => $"{At / 1000.0:F3} ms {(DiskId)(Variant / 10)} {(DiskFailure)(Variant % 10)} errors for {Duration / 1000.0:F3} ms",
        FaultKind.DiskFull => $"{At / 1000.0:F3} ms {(DiskId)Variant} full for {Duration / 1000.0:F3} ms",
        FaultKind.JournalDamage => $"{At / 1000.0:F3} ms {(Variant == 2 ? "the state record is damaged" : Variant == 1 ? "the journal entry before the next resync's first is damaged" : "a committed journal entry is damaged")}; the secondary restarts after {Duration / 1000.0:F3} ms",
        FaultKind.PrimaryRestart => $"{At / 1000.0:F3} ms operator restarts the primary ({(PrimaryRestart)Variant})",
        FaultKind.DiskLatencySpike => $"{At / 1000.0:F3} ms {(DiskId)Variant} slow for {Duration / 1000.0:F3} ms",
        _ => $"{At / 1000.0:F3} ms {Kind}",
    };
}

internal enum FaultKind
{
    PrimaryCrash,
    SecondaryPowerCut,
    SecondaryCrash,
    PrimaryPause,
    FailoverCommand,
    Partition,
    ConnectionReset,
    CorruptFrame,
    NetworkDelaySpike,
    DiskErrors,
    DiskFull,
    DiskLatencySpike,
    PrimaryRestart,
    JournalDamage,

    /// <summary>The witness cut off from the primary (variant 0), the secondary (1) or both (2) for the duration.</summary>
    WitnessPartition,

    /// <summary>The witness's process dies (variant 0), or its host loses power (1: its directory keeps only what was synced), and starts again after the duration.</summary>
    WitnessCrash,

    /// <summary>The secondary's process is stopped for the duration: it hears and does nothing until it wakes.</summary>
    SecondaryPause,

    /// <summary>The witness's process is stopped for the duration.</summary>
    WitnessPause,
}

/// <summary>How an operator's restart of the primary goes.</summary>
internal enum PrimaryRestart
{
    /// <summary>A clean stop (guest quiet, a last checkpoint), then a start: the pair must run again.</summary>
    Clean,

    /// <summary>The process dies, then is started again: the secondary must refuse it (its image may hold writes never mirrored).</summary>
    AfterCrash,

    /// <summary>After a clean stop, a primary of another pair is started against this secondary by mistake, then the right one.</summary>
    OtherPair,

    /// <summary>As <see cref="OtherPair"/>, with another image size.</summary>
    OtherSize,

    /// <summary>As <see cref="OtherPair"/>, with another block size.</summary>
    OtherBlockSize,

    /// <summary>As <see cref="OtherPair"/>, with another largest request.</summary>
    OtherLargestRequest,

    /// <summary>As <see cref="OtherPair"/>: this pair's primary, but a daemon speaking another protocol version.</summary>
    OtherVersion,
}

/// <summary>Where in the checkpoint cycle a primary crash lands: it waits for that point once due.</summary>
internal enum PrimaryCrashPoint
{
    MidEpoch,
    DuringDrain,
    AfterCheckpointSent,
    AfterAcknowledgement,
}

/// <summary>Where in the commit cycle a secondary power cut lands.</summary>
internal enum SecondaryCutPoint
{
    Anywhere,

    /// <summary>Inside the real journal append: between any two of its writes and its flush.</summary>
    DuringJournalWrite,

    /// <summary>Inside applying a committed epoch to the image and RAM image.</summary>
    DuringApply,

    /// <summary>Inside recording an applied epoch: the state record's replacement (new file, sync, rename, directory sync) and the journal's release or compaction.</summary>
    DuringStateRecord,
}

internal enum PartitionDirection
{
    ToSecondary,
    ToPrimary,
    BothWays,
}

internal enum DiskId
{
    PrimaryImage,
    SecondaryImage,
    SecondaryJournal,
}

internal enum DiskFailure
{
    Read,
    Write,
    Flush,
}
