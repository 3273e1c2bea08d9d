using Replicator.Sim;
using Replicator.Sim.Runs;

namespace Replicator.Sim.Tests;

public class SeedBatchTests
{
    [Fact]
    public void A_thousand_seeds_pass_every_checker_and_replay_identically()
    {
        BatchReport report = Batch.Run(new SimulatorArguments { Start = 1, Seeds = 1000, DeterminismEvery = 50 }, _ => { });

        string failures = string.Join(Environment.NewLine, report.Failures.Take(3).Select(f => $"{f.Scenario.Describe()}{Environment.NewLine}  {string.Join(Environment.NewLine + "  ", f.Violations)}"));
        Assert.True(report.FailedCount == 0, failures);
        Assert.Equal(1000, report.Seeds);
        Assert.Equal(20, report.DeterminismChecked);
        Assert.Empty(report.DeterminismFailures);
        Assert.True(report.Commits > 10_000, $"only {report.Commits} epochs committed over 1000 seeds");
    }
}
