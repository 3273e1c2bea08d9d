using Replicator.Sim.Runs;

namespace Replicator.Sim.Tests;

public class DeterminismTests
{
    [Theory]
    [InlineData(7)]
    [InlineData(395)]
    [InlineData(1373)]
    public void A_seed_replays_to_the_same_trace_line_for_line(long seed)
    {
        RunResult first = Simulation.Run(ScenarioDraw.FromSeed(seed), keepTrace: true);
        RunResult second = Simulation.Run(ScenarioDraw.FromSeed(seed), keepTrace: true);

        Assert.Equal(first.TraceHash, second.TraceHash);
        Assert.Equal(first.Events, second.Events);
        Assert.Equal(first.TraceLines, second.TraceLines);
        Assert.NotEmpty(first.TraceLines);
    }

    [Fact]
    public void Different_seeds_make_different_worlds()
    {
        ulong[] hashes = Enumerable.Range(1, 20).Select(s => Simulation.Run(ScenarioDraw.FromSeed(s)).TraceHash).ToArray();
        Assert.Equal(hashes.Length, hashes.Distinct().Count());
    }

    [Fact]
    public void The_trace_hash_covers_what_happened()
    {
        // Same seed, one fault fewer: a different history, so a different hash.
        Scenario scenario = ScenarioDraw.FromSeed(395);
        Assert.NotEmpty(scenario.Faults);
        RunResult full = Simulation.Run(scenario);
        RunResult fewer = Simulation.Run(scenario with { Faults = scenario.Faults.Skip(1).ToList() });
        Assert.NotEqual(full.TraceHash, fewer.TraceHash);
    }
}
