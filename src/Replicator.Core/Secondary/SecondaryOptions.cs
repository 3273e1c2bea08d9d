using Replicator.Core.Blocks;
using Replicator.Core.Testing;

namespace Replicator.Core.Secondary;

/// <summary>Settings of the secondary's state machine.</summary>
public sealed record SecondaryOptions
{
    public required BlockGeometry Geometry { get; init; }

    /// <summary>
    /// The credit window: bytes of records (payload plus per-record overhead) held in epochs not yet
    /// committed, plus committed ones whose credit the write-back bound holds back. Told to the
    /// primary, which never sends beyond it.
    /// </summary>
    public required long BufferCapacityBytes { get; init; }

    /// <summary>
    /// How many bytes of committed epochs may wait in RAM for the write-back to the image with their
    /// credit already returned. Beyond it, a committed epoch's credit comes back only as the
    /// write-back drains the backlog. 0: all credit waits for the write-back.
    /// </summary>
    public long WritebackCapacityBytes { get; init; }

    /// <summary>
    /// How many bytes of RAM pages committed checkpoints may hold in RAM while they wait for the
    /// write-back. Beyond it, committed epochs are acknowledged only as the write-back drains them,
    /// and the primary, which starts no checkpoint while too many wait for their acknowledgement,
    /// checkpoints less often. Unbounded unless set (the hosts set it to <see cref="WritebackCapacityBytes"/>).
    /// </summary>
    public long WritebackPageCapacityBytes { get; init; } = long.MaxValue;

    /// <summary>Open epochs beyond the last sealed one that may hold records; more is a protocol error.</summary>
    public int MaxOpenEpochs { get; init; } = 64;

    /// <summary>The guest RAM this node stores, in pages of <see cref="VmPageSize"/> bytes; snapshots that do not fit are refused before commit. 0: not checked.</summary>
    public long VmPageCount { get; init; }

    public int VmPageSize { get; init; } = 4096;

    /// <summary>A deliberate defect for the simulator's checkers to catch; never set outside tests.</summary>
    public PlantedBug Plant { get; init; }

    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Geometry);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(BufferCapacityBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxOpenEpochs);
        ArgumentOutOfRangeException.ThrowIfNegative(WritebackCapacityBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(WritebackPageCapacityBytes);
    }
}
