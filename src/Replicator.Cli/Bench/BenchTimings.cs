namespace Replicator.Cli.Bench;

/// <summary>
/// How long each run of a configuration lasts. The paced run is long enough for a few hundred
/// checkpoints at short epochs and at least 150 at 100 ms (so p99 rests on more than one sample);
/// the quick sweep trades that for finishing in about a minute. The warm-up outlasts the runtime's:
/// a fresh process runs its first one to two seconds at about half speed, until its hot code is
/// compiled again, optimised (docs/performance.md, *The runtime's warm-up*), and a run measured
/// inside that measured the compiler, not the pair.
/// </summary>
internal sealed record BenchTimings(int WarmUpMs, int PacedMs, int ClosedMs)
{
    /// <summary>The three primaries' runs together: warm-up, paced and closed loop replicated; warm-up and closed loop unreplicated, without and with a flush per epoch.</summary>
    public int TotalMs => (3 * WarmUpMs) + PacedMs + (3 * ClosedMs);

    public static BenchTimings For(BenchConfiguration configuration, bool quick)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return quick
            ? new BenchTimings(2_000, 2_000, 1_000)
            : new BenchTimings(3_000, Math.Max(5_000, 150 * configuration.EpochMs), 3_000);
    }
}
