using Replicator.Sim.Runs;

namespace Replicator.Sim.Faults;

/// <summary>
/// Draws a run's fault schedule. Each seed has its own rates: some seeds are calm, some see one
/// fault, some a storm. Faults fall in the first 60% of the run, so the rest shows the pair
/// recovering (liveness) before the final failover.
/// </summary>
internal static class FaultPlanner
{
    // The witness's faults are drawn apart (DrawWitness), so every other seed's schedule stays what it was.
    private static readonly FaultKind[] Kinds = Enum.GetValues<FaultKind>().Where(k => k < FaultKind.WitnessPartition).ToArray();

    public static IReadOnlyList<Fault> Draw(Random r, Scenario s)
    {
        // A fifth of the seeds run without faults: the planted bugs must show up in calm worlds too.
        int count = r.NextDouble() < 0.2 ? 0 : r.Next(1, 7);
        double[] weights = Kinds.Select(_ => r.NextDouble()).ToArray();
        var faults = new List<Fault>(count);
        for (int i = 0; i < count; i++)
        {
            FaultKind kind = Pick(r, weights);
            long at = (long)(s.DurationUs * (0.05 + 0.55 * r.NextDouble()));
            faults.Add(kind switch
            {
                FaultKind.PrimaryCrash => new Fault(kind, at, Variant: r.Next(4)),
                FaultKind.SecondaryPowerCut => new Fault(kind, at, Duration: r.Next(1, 50) * 1000L, Variant: r.Next(4)),
                FaultKind.SecondaryCrash => new Fault(kind, at, Duration: r.Next(1, 50) * 1000L),
                FaultKind.PrimaryPause => new Fault(kind, at, Duration: r.NextDouble() < 0.5 ? s.HeartbeatTimeoutUs * 2 : r.Next(1, 20) * 1000L),
                FaultKind.Partition => new Fault(kind, at, Duration: r.Next(1, 60) * 1000L, Variant: r.Next(3)),
                FaultKind.CorruptFrame => new Fault(kind, at, Variant: r.Next(2)),
                FaultKind.ConnectionReset => new Fault(kind, at, Duration: r.Next(1, 30) * 1000L, Variant: r.Next(2)),
                FaultKind.NetworkDelaySpike => new Fault(kind, at, Duration: r.Next(1, 30) * 1000L, Variant: r.Next(1, 20) * 1000),
                FaultKind.DiskErrors => new Fault(kind, at, Duration: r.Next(1, 20) * 1000L, Variant: (r.Next(3) * 10) + r.Next(3)),
                FaultKind.DiskFull => new Fault(kind, at, Duration: r.Next(1, 20) * 1000L, Variant: r.Next(3)),
                FaultKind.DiskLatencySpike => new Fault(kind, at, Duration: r.Next(1, 20) * 1000L, Variant: r.Next(3)),
                FaultKind.JournalDamage => new Fault(kind, at, Duration: r.Next(1, 20) * 1000L, Variant: r.Next(3)),
                FaultKind.PrimaryRestart => new Fault(kind, at, Variant: r.Next(Enum.GetValues<PrimaryRestart>().Length)),
                _ => new Fault(kind, at),
            });
        }

        faults.Sort((a, b) => a.At.CompareTo(b.At));
        return faults;
    }

    /// <summary>
    /// A witness's own faults: its links cut (one node's, or both), its crashes — and, half the
    /// time, a partition between the two nodes at the same moment, so the primary is cut off from
    /// both, or the nodes from each other while the witness sees both.
    /// </summary>
    public static IReadOnlyList<Fault> DrawWitness(Random r, Scenario s)
    {
        var faults = new List<Fault>();
        int count = r.Next(0, 4);
        for (int i = 0; i < count; i++)
        {
            long at = (long)(s.DurationUs * (0.05 + 0.55 * r.NextDouble()));
            long duration = r.NextDouble() < 0.5 ? s.HeartbeatTimeoutUs * r.Next(2, 6) : r.Next(1, 60) * 1000L;
            double roll = r.NextDouble();
            if (roll < 0.3)
            {
                faults.Add(new Fault(FaultKind.WitnessCrash, at, Duration: duration, Variant: r.Next(2)));
                continue;
            }

            if (roll < 0.45)
            {
                // A stopped process of either node: the secondary that wakes to a vote or a stale
                // frame, the witness that answers late (the primary's own pauses are drawn with the rest).
                faults.Add(new Fault(r.NextDouble() < 0.5 ? FaultKind.SecondaryPause : FaultKind.WitnessPause, at, Duration: duration));
                continue;
            }

            faults.Add(new Fault(FaultKind.WitnessPartition, at, Duration: duration, Variant: r.Next(3)));
            if (r.NextDouble() < 0.5)
            {
                faults.Add(new Fault(FaultKind.Partition, at, Duration: duration, Variant: r.Next(3)));
            }
        }

        return faults;
    }

    private static FaultKind Pick(Random r, double[] weights)
    {
        double roll = r.NextDouble() * weights.Sum();
        for (int i = 0; i < weights.Length; i++)
        {
            roll -= weights[i];
            if (roll <= 0)
            {
                return Kinds[i];
            }
        }

        return Kinds[^1];
    }
}
