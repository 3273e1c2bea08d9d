using System.Collections.Concurrent;
using System.Diagnostics;

namespace Replicator.Sim.Runs;

/// <summary>What a batch of seeds found.</summary>
internal sealed record BatchReport(
    long Seeds,
    long FailedCount,
    IReadOnlyList<RunResult> Failures,
    IReadOnlyList<string> DeterminismFailures,
    long DeterminismChecked,
    long Events,
    long SimulatedUs,
    long Commits,
    TimeSpan Wall,
    long? FirstFailingSeed,
    long SeedsUntilFirstFailure,
    IReadOnlyDictionary<FailbackSync, long> Failbacks,
    long SwitchedOver,
    long WitnessSeeds = 0,
    long WitnessVotes = 0,
    long PrimariesSuperseded = 0);

/// <summary>Runs seeds on every core; each seed's run depends on nothing but the seed, so the order they finish in does not matter.</summary>
internal static class Batch
{
    /// <summary>Runs the seeds; <paramref name="progress"/> is told of each finished seed, from any thread.</summary>
    public static BatchReport Run(SimulatorArguments arguments, Action<long> progress)
    {
        var failures = new ConcurrentBag<RunResult>();
        var determinism = new ConcurrentBag<string>();
        var failbacks = new ConcurrentDictionary<FailbackSync, long>();
        long events = 0, simulated = 0, commits = 0, failed = 0, checkedTwice = 0, ran = 0, switchedOver = 0, witnessSeeds = 0, votes = 0, superseded = 0;
        var wall = Stopwatch.StartNew();
        Parallel.For(arguments.Start, arguments.Start + arguments.Seeds, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, (seed, state) =>
        {
            if (Interlocked.Read(ref failed) >= arguments.MaxFailures)
            {
                state.Stop();
                return;
            }

            Scenario scenario = ScenarioDraw.FromSeed(seed, arguments.Plant);
            RunResult result = Simulation.Run(scenario);
            Interlocked.Increment(ref ran);
            Interlocked.Add(ref events, result.Events);
            Interlocked.Add(ref simulated, result.SimulatedUs);
            Interlocked.Add(ref commits, result.Commits);
            if (result.SwitchedOver)
            {
                Interlocked.Increment(ref switchedOver);
            }

            if (result.Witness.Present)
            {
                Interlocked.Increment(ref witnessSeeds);
                Interlocked.Add(ref votes, result.Witness.Votes);
                Interlocked.Add(ref superseded, result.Witness.PrimarySuperseded ? 1 : 0);
            }

            if (result.Failback != FailbackSync.None)
            {
                failbacks.AddOrUpdate(result.Failback, 1, (_, n) => n + 1);
            }

            if (!result.Passed)
            {
                Interlocked.Increment(ref failed);
                failures.Add(result);
            }

            if (arguments.DeterminismEvery > 0 && seed % arguments.DeterminismEvery == 0)
            {
                Interlocked.Increment(ref checkedTwice);
                RunResult again = Simulation.Run(scenario);
                if (again.TraceHash != result.TraceHash || again.Events != result.Events)
                {
                    determinism.Add($"determinism: seed {seed} ran twice gave traces {result.TraceHash:x16} and {again.TraceHash:x16}");
                }
            }

            progress(seed);
        });

        List<RunResult> ordered = failures.OrderBy(f => f.Scenario.Seed).ToList();
        long? first = ordered.Count > 0 ? ordered[0].Scenario.Seed : null;
        return new BatchReport(
            ran, failed, ordered, determinism.ToList(), checkedTwice, events, simulated, commits, wall.Elapsed,
            first, first is null ? 0 : first.Value - arguments.Start + 1, failbacks, switchedOver, witnessSeeds, votes, superseded);
    }
}
