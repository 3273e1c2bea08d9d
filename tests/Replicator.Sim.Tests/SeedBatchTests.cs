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

        // Failbacks of every kind ran, and passed with the rest: synced from the changes alone,
        // whole (the old primary could not say what it wrote), and whole after a split brain.
        Assert.True(report.Failbacks.GetValueOrDefault(FailbackSync.Changes) >= 50, $"failbacks: {string.Join(", ", report.Failbacks)}");
        Assert.True(report.Failbacks.GetValueOrDefault(FailbackSync.WholeImage) > 0, $"failbacks: {string.Join(", ", report.Failbacks)}");
        Assert.True(report.Failbacks.GetValueOrDefault(FailbackSync.AfterSplitBrain) > 0, $"failbacks: {string.Join(", ", report.Failbacks)}");

        // A witness ran in about a quarter of them, through its links cut, its crashes and pauses of
        // the primary: it voted promotions and superseded old primaries, and the I6 checker (no
        // acknowledgement by the old primary after a vote, no vote for a lineage lacking what it
        // acknowledged) found nothing.
        Assert.True(report.WitnessSeeds >= 150, $"{report.WitnessSeeds} seeds with a witness");
        Assert.True(report.WitnessVotes >= 20, $"{report.WitnessVotes} promotions voted");
        Assert.True(report.PrimariesSuperseded >= 5, $"{report.PrimariesSuperseded} old primaries superseded");
    }

    /// <summary>
    /// A 100,000-seed run once failed on I4 this way: an image write failed, the secondary halted,
    /// restarted without a power cut and flushed as it replayed the epoch, then lost power. The failed
    /// write never completed, so that flush did not make it durable; the checker had required it.
    /// These seeds draw a failed image write followed by a power cut (found again by scanning seeds
    /// when the scenario's draws changed).
    /// </summary>
    [Theory]
    [InlineData(296)]
    [InlineData(318)]
    [InlineData(462)]
    [InlineData(624)]
    [InlineData(632)]
    public void A_failed_image_write_is_not_made_durable_by_the_flushes_of_the_replay_after_a_halt(long seed)
    {
        RunResult result = Simulation.Run(ScenarioDraw.FromSeed(seed), keepTrace: true);

        Assert.True(result.Passed, string.Join(Environment.NewLine, result.Violations));
        int failed = result.TraceLines.ToList().FindIndex(l => l.Contains("WriteImage of epoch", StringComparison.Ordinal) && l.Contains(": StorageFailed", StringComparison.Ordinal));
        Assert.True(failed >= 0, $"seed {seed} no longer draws a failed image write");
        Assert.Contains(result.TraceLines.Skip(failed), l => l.Contains("secondary power cut", StringComparison.Ordinal));
    }

    /// <summary>
    /// A 3,000-seed run found this once the journal lived in two files: the last entry of the older
    /// file was damaged and the newer file began with the first epoch of a resync, whose jump in
    /// epoch numbers hid the missing entry, so the replay skipped a committed epoch (I1, I4). A
    /// resync's first epoch now never moves to the other file, and such a file boundary is damage.
    /// These seeds draw a resync and a secondary power cut that tears the journal's last entry: with
    /// a resync's first epoch let into the other file they fail (I3/I4, an epoch in neither file).
    /// They were found again that way, rule broken and seeds scanned, when the scenario's timing changed.
    /// </summary>
    [Theory]
    [InlineData(20)]
    [InlineData(462)]
    public void A_damaged_entry_before_a_resync_s_first_epoch_is_never_stepped_over_at_a_file_boundary(long seed)
    {
        RunResult result = Simulation.Run(ScenarioDraw.FromSeed(seed), keepTrace: true);

        Assert.True(result.Passed, string.Join(Environment.NewLine, result.Violations));
        Assert.Contains(result.TraceLines, l => l.Contains("resyncing", StringComparison.Ordinal));
        Assert.Contains(result.TraceLines, l => l.Contains("secondary power cut", StringComparison.Ordinal));
    }
}
