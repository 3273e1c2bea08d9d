using System.Diagnostics;

namespace Replicator.Cli.Diagnostics;

/// <summary>
/// A primary daemon's checkpoints since it started serving (or since the last reset), exact to the
/// percentile, for the control command <c>checkpoint-stats</c>: commit latency, the pause and its
/// phases, and with a QEMU guest where the guest's pause went. The metrics endpoint's histograms
/// have buckets too coarse for a benchmark's percentiles; this is what <c>bench --vm</c> and
/// <c>demo --vm</c> read.
/// </summary>
internal sealed class PrimaryCheckpointStats
{
    private long _since = Stopwatch.GetTimestamp();

    public PrimaryCheckpointStats(bool withVm)
    {
        Checkpoints.Start();
        Vm = withVm ? new VmCheckpointRecorder() : null;
    }

    /// <summary>Every acknowledged checkpoint's timings (the node's <c>CheckpointCompleted</c>).</summary>
    public CheckpointRecorder Checkpoints { get; } = new();

    /// <summary>The QEMU guest's pauses; null without one.</summary>
    public VmCheckpointRecorder? Vm { get; }

    /// <summary>The summary, then (with <paramref name="reset"/>) a fresh start.</summary>
    public CheckpointStatsReport Report(bool reset)
    {
        long now = Stopwatch.GetTimestamp();
        double seconds = Stopwatch.GetElapsedTime(Interlocked.Read(ref _since), now).TotalSeconds;
        (long count, LatencySummary commit, LatencySummary pause, Dictionary<string, LatencySummary> phases, long bufferPeak, PageVolume pages) = Checkpoints.Summary(reset);
        VmCheckpointSummary? vm = Vm?.Summary(reset);
        if (reset)
        {
            Interlocked.Exchange(ref _since, now);
        }

        return new CheckpointStatsReport(Math.Round(seconds, 3), count, seconds > 0 ? Math.Round(count / seconds, 1) : 0, commit, pause, phases, bufferPeak, pages.CapturedBytes, pages.SentBytes, vm);
    }
}

/// <summary>
/// The answer to <c>checkpoint-stats</c>: over <see cref="Seconds"/>, how many checkpoints were
/// acknowledged and at what rate, their commit latency, pause and phases in microseconds, the
/// secondary's buffer peak, the checkpoints' RAM page bytes as captured and as sent on the link,
/// and the QEMU guest's pauses (null without one).
/// </summary>
internal sealed record CheckpointStatsReport(
    double Seconds,
    long Checkpoints,
    double PerSecond,
    LatencySummary CommitUs,
    LatencySummary PauseUs,
    IReadOnlyDictionary<string, LatencySummary> PhasesUs,
    long BufferPeakBytes,
    long PageBytes,
    long PageWireBytes,
    VmCheckpointSummary? Vm);
