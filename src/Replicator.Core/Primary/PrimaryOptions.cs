using Replicator.Core.Blocks;
using Replicator.Core.Testing;

namespace Replicator.Core.Primary;

/// <summary>Settings of the primary's state machine. Validated when the engine is built.</summary>
public sealed record PrimaryOptions
{
    public required BlockGeometry Geometry { get; init; }

    /// <summary>
    /// The secondary's buffer bound in bytes, learned at the handshake. The primary never has more
    /// than this outstanding (credit), so the secondary never has to drop or refuse a write.
    /// </summary>
    public required long SecondaryBufferBytes { get; init; }

    /// <summary>Checkpoints sent and not yet acknowledged; at the limit the next one waits.</summary>
    public int MaxUnacknowledgedCheckpoints { get; init; } = 4;

    /// <summary>Close the epoch early once it alone holds this share of the secondary's buffer.</summary>
    public double EarlyCheckpointFraction { get; init; } = 0.5;

    /// <summary>Granularity of the map of regions the secondary may lack (for resync after degradation).</summary>
    public int DirtyRegionBytes { get; init; } = 1 << 20;

    /// <summary>
    /// Where replication resumes: the epoch after the one the secondary holds, and the sequence
    /// number after that epoch's last. Both 1 for a fresh pair.
    /// </summary>
    public long FirstEpoch { get; init; } = 1;

    public long FirstSequence { get; init; } = 1;

    /// <summary>
    /// Whether the engine knows every region written since the secondary held checkpoint
    /// <see cref="FirstEpoch"/> − 1: true when it starts where both images are known equal. False
    /// for a primary that did not stop cleanly, or whose secondary's checkpoint it does not know:
    /// until a whole-image sync, no resync from the dirty-region map can protect the pair.
    /// </summary>
    public bool KnowsChangesSinceFirstEpoch { get; init; } = true;

    /// <summary>
    /// A restarted primary's dirty log: the regions that may differ between its image and any
    /// checkpoint from <see cref="FirstEpoch"/> − 1 on of the stream its secondary followed. The
    /// engine starts with them unknown (to be copied), and since it cannot know how far that stream
    /// went before the restart, its first resync takes the secondary's epoch and sequence numbers
    /// instead of checking them against its own. Requires <see cref="KnowsChangesSinceFirstEpoch"/>.
    /// </summary>
    public IReadOnlyCollection<long>? RestoredDirtyRegions { get; init; }

    /// <summary>
    /// A whole-image sync compares each region first (its blocks' hashes, as online verify does)
    /// and copies only the regions that differ: for a stale secondary that mostly holds the data.
    /// Only with regions no larger than the largest request (a comparison reads a region whole).
    /// </summary>
    public bool ChecksumWholeImageSync { get; init; }

    /// <summary>
    /// Set: the engine begins degraded for this reason — it mirrors nothing and admits every request
    /// at once until <see cref="PrimaryEngine.BeginResync"/> — as a primary with no secondary yet does.
    /// </summary>
    public string? StartsDegradedBecause { get; init; }

    /// <summary>
    /// Resync reads of the primary's disk in flight at once: enough to keep the link busy, few
    /// enough that the guest's own requests still find the disk free.
    /// </summary>
    public int MaxResyncReadsInFlight { get; init; } = 4;

    public DegradedOutputPolicy DegradedOutputPolicy { get; init; } = DegradedOutputPolicy.ReleaseUnprotected;

    /// <summary>A deliberate defect for the simulator's checkers to catch; never set outside tests.</summary>
    public PlantedBug Plant { get; init; }

    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Geometry);
        long largestRecord = Geometry.MaxRequestBytes + Epochs.MirrorRecord.RecordOverheadBytes;
        if (SecondaryBufferBytes < 2 * largestRecord)
        {
            throw new ArgumentOutOfRangeException(nameof(SecondaryBufferBytes), SecondaryBufferBytes,
                $"the secondary's buffer must hold at least two of the largest records ({2 * largestRecord} bytes), or an epoch could never close");
        }

        if (FirstEpoch < 1 || FirstSequence < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(FirstEpoch), $"replication must start at epoch and sequence number 1 or later, not {FirstEpoch}/{FirstSequence}");
        }

        if (MaxUnacknowledgedCheckpoints < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxUnacknowledgedCheckpoints), MaxUnacknowledgedCheckpoints, "must be at least 1");
        }

        if (MaxResyncReadsInFlight < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxResyncReadsInFlight), MaxResyncReadsInFlight, "must be at least 1");
        }

        if (EarlyCheckpointFraction is <= 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(EarlyCheckpointFraction), EarlyCheckpointFraction, "must be in (0, 1]");
        }

        if (RestoredDirtyRegions is not null && !KnowsChangesSinceFirstEpoch)
        {
            throw new ArgumentException("restored dirty regions say what changed since the first epoch: the engine must know changes from there", nameof(RestoredDirtyRegions));
        }

        if (DirtyRegionBytes < BlockGeometry.SectorSize || DirtyRegionBytes % BlockGeometry.SectorSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(DirtyRegionBytes), DirtyRegionBytes, "must be a multiple of the sector size");
        }
    }
}
