using Replicator.Core.Blocks;

namespace Replicator.Core.Guest;

/// <summary>The shape of the synthetic guest's workload. Everything it does follows from <see cref="Seed"/>.</summary>
public sealed record SyntheticGuestOptions
{
    public int Seed { get; init; } = 1;

    public long DiskBytes { get; init; } = 1 << 20;

    public int PageSize { get; init; } = 4096;

    public int RamPages { get; init; } = 64;

    /// <summary>RAM pages dirtied per disk request issued: the guest's RAM dirty rate. A fraction accumulates (0.25: one page every fourth request).</summary>
    public double PagesDirtiedPerRequest { get; init; } = 1;

    /// <summary>Chance that a page dirtied is rewritten whole with random bytes rather than in a few bytes (0: never; nothing is drawn for it then).</summary>
    public double PageRewriteProbability { get; init; }

    /// <summary>Every write (and write-zeroes, trim) this many bytes, a power of two times the sector size up to <see cref="MaxWriteBytes"/>; 0: sizes vary from one sector up to it.</summary>
    public int FixedWriteBytes { get; init; }

    /// <summary>
    /// Whether the guest keeps its own record to judge a replica by: a model of its disk and the
    /// hashes (or copies) of each checkpoint. Without it the guest is a load generator whose own
    /// cost per request is near nothing, so a benchmark measures the replicator rather than the
    /// guest: writes reuse payloads made up front, nothing is hashed, and RAM pages are dirtied in
    /// turn (each one distinct until RAM wraps around), so a dirty rate means that many pages.
    /// </summary>
    public bool KeepsRecord { get; init; } = true;

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
