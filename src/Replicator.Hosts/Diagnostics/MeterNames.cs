using System.Diagnostics.Metrics;

namespace Replicator.Hosts.Diagnostics;

/// <summary>
/// The meters the hosts measure on, one per role, so an exporter picks them with one pattern
/// (<c>Replicator.*</c>) and a node that changes role swaps one meter for the other.
/// </summary>
public static class MeterNames
{
    public const string Primary = "Replicator.Primary";

    public const string Secondary = "Replicator.Secondary";

    public const string Witness = "Replicator.Witness";

    /// <summary>What an exporter subscribes to.</summary>
    public const string Pattern = "Replicator.*";

    /// <summary>
    /// Bucket bounds, in seconds, for every duration histogram: half a millisecond (a pause) to ten
    /// seconds (a stalled commit). Exporters otherwise pick bounds made for milliseconds.
    /// </summary>
    public static readonly InstrumentAdvice<double> DurationBuckets = new()
    {
        HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    };
}
