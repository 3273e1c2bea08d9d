using HdrHistogram;

namespace Replicator.Cli.Diagnostics;

/// <summary>
/// Latencies in an HDR histogram (nanoseconds, three significant digits, up to 100 s): recording
/// allocates nothing and costs the same at any count, and the tail percentiles stay exact to 0.1 %.
/// Not thread-safe: record from one thread, or under a lock.
/// </summary>
internal sealed class LatencyHistogram
{
    private readonly LongHistogram _histogram = new(100_000_000_000L, 3);

    public long Count => _histogram.TotalCount;

    public void Record(TimeSpan latency) => _histogram.RecordValue(Math.Max(1, (long)(latency.TotalNanoseconds)));

    public void RecordMicroseconds(long microseconds) => _histogram.RecordValue(Math.Max(1, microseconds * 1000));

    public LatencySummary Summary() => Count == 0
        ? new LatencySummary(0, 0, 0, 0, 0, 0, 0)
        : new LatencySummary(
            Count,
            Microseconds(_histogram.GetValueAtPercentile(50)),
            Microseconds(_histogram.GetValueAtPercentile(90)),
            Microseconds(_histogram.GetValueAtPercentile(99)),
            Microseconds(_histogram.GetValueAtPercentile(99.9)),
            Microseconds(_histogram.GetMaxValue()),
            Math.Round(_histogram.GetMean() / 1000, 1));

    private static double Microseconds(long nanoseconds) => Math.Round(nanoseconds / 1000.0, 1);
}

/// <summary>A latency distribution in microseconds.</summary>
internal sealed record LatencySummary(long Count, double P50, double P90, double P99, double P999, double Max, double Mean);
