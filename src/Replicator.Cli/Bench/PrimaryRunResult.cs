using System.Text.Json;
using System.Text.Json.Serialization;
using Replicator.Cli.Diagnostics;

namespace Replicator.Cli.Bench;

/// <summary>What one <c>bench-primary</c> process measured, handed to <c>bench</c> as a JSON file; <c>Flushes</c>: the periodic flushes of the flushed unreplicated run.</summary>
internal sealed record PrimaryRunResult(string Mode, PacedRun? Paced, ClosedLoopRun Closed, long Flushes = 0)
{
    public static JsonSerializerOptions Json { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}

/// <summary>
/// The replicated guest at its configured rate: commit latency and its phases, pauses, what went
/// over the link and into the secondary's buffer, and what the process allocated meanwhile.
/// </summary>
internal sealed record PacedRun(
    double Seconds,
    long Checkpoints,
    LatencySummary Commit,
    LatencySummary Pause,
    IReadOnlyDictionary<string, LatencySummary> Phases,
    long DiskBytes,
    long RamPages,
    long WireBytes,
    long BufferPeakBytes,
    long Writes,
    LatencySummary WriteLatency,
    ProcessCost Cost);

/// <summary>The guest writing as fast as the node takes its writes, at its queue depth.</summary>
internal sealed record ClosedLoopRun(double Seconds, long Writes, long Bytes, LatencySummary WriteLatency, long Checkpoints, LatencySummary Commit, LatencySummary Pause, ProcessCost Cost)
{
    public double MegabytesPerSecond => Seconds <= 0 ? 0 : Bytes / Seconds / 1e6;
}

/// <summary>The whole process's allocations and collections over a run.</summary>
internal sealed record ProcessCost(long AllocatedBytes, int Gen0, int Gen1, int Gen2)
{
    public static ProcessCost Now() => new(GC.GetTotalAllocatedBytes(precise: true), GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));

    public ProcessCost Since(ProcessCost start)
    {
        ArgumentNullException.ThrowIfNull(start);
        return new(AllocatedBytes - start.AllocatedBytes, Gen0 - start.Gen0, Gen1 - start.Gen1, Gen2 - start.Gen2);
    }
}
