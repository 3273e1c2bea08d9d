using Replicator.Core.Blocks;

namespace Replicator.Core.Guest;

/// <summary>The shape of the synthetic guest's workload. Everything it does follows from <see cref="Seed"/>.</summary>
public sealed record SyntheticGuestOptions
{
    public int Seed { get; init; } = 1;

    public long DiskBytes { get; init; } = 1 << 20;

    public int PageSize { get; init; } = 4096;

    public int RamPages { get; init; } = 64;

    /// <summary>RAM pages dirtied per disk request issued: the guest's RAM dirty rate.</summary>
    public int PagesDirtiedPerRequest { get; init; } = 1;

    /// <summary>The largest write, a power of two times the sector size; sizes vary from one sector up to it.</summary>
    public int MaxWriteBytes { get; init; } = 64 * 1024;

    /// <summary>Chance that a write lands on top of one of the last few, so overlapping writes are in flight together.</summary>
    public double OverlapProbability { get; init; } = 0.3;

    public double FlushProbability { get; init; } = 0.08;

    public double FuaProbability { get; init; } = 0.08;

    public double WriteZeroesProbability { get; init; } = 0.04;

    public double TrimProbability { get; init; } = 0.04;

    /// <summary>How many checkpoints' expected states are kept byte for byte (older ones keep only a hash).</summary>
    public int RetainedCheckpoints { get; init; } = 16;

    public BlockGeometry Geometry => new(DiskBytes, MaxWriteBytes);
}
