namespace Replicator.Sim.Runs;

/// <summary>
/// Makes a failing scenario smaller while it still fails: drops faults one at a time, then cuts
/// the run shorter. The seed stays the same, so the world's draws stay the same as far as they go.
/// </summary>
internal static class Shrinker
{
    public static RunResult Shrink(RunResult failing, int maxRuns = 200)
    {
        RunResult best = failing;
        int runs = 0;
        bool progress = true;
        while (progress && runs < maxRuns)
        {
            progress = false;
            for (int i = 0; i < best.Scenario.Faults.Count && runs < maxRuns; i++)
            {
                var fewer = best.Scenario.Faults.Where((_, index) => index != i).ToList();
                RunResult attempt = Simulation.Run(best.Scenario with { Faults = fewer });
                runs++;
                if (!attempt.Passed)
                {
                    best = attempt;
                    progress = true;
                    i--;
                }
            }

            long shorter = best.Scenario.DurationUs * 3 / 4;
            if (shorter >= 4 * best.Scenario.EpochUs && runs < maxRuns)
            {
                var faults = best.Scenario.Faults.Where(f => f.At < shorter).ToList();
                RunResult attempt = Simulation.Run(best.Scenario with { DurationUs = shorter, Faults = faults });
                runs++;
                if (!attempt.Passed)
                {
                    best = attempt;
                    progress = true;
                }
            }
        }

        return best;
    }
}
