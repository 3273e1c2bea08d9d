using Replicator.Sim.Runs;

namespace Replicator.Sim;

/// <summary>Runs a batch of seeds (or replays one), shrinks what fails, and reports.</summary>
internal static class SimulatorCommand
{
    public static int Run(string[] args, TextWriter output)
    {
        if (SimulatorCommandLine.Parse(args, output, out int exitCode) is not { } arguments)
        {
            return exitCode;
        }

        if (arguments.Trace)
        {
            return Replay(arguments, output);
        }

        BatchReport report = Batch.Run(arguments, ProgressTo(Console.Error, arguments.Seeds));
        Print(report, arguments, output);
        return report.Failures.Count == 0 && report.DeterminismFailures.Count == 0 ? 0 : 1;
    }

    /// <summary>A long batch says how far it got every tenth of the way (on standard error, apart from the report).</summary>
    private static Action<long> ProgressTo(TextWriter progress, long seeds)
    {
        if (seeds < 10_000)
        {
            return _ => { };
        }

        long done = 0;
        long step = seeds / 10;
        return _ =>
        {
            long now = Interlocked.Increment(ref done);
            if (now % step == 0)
            {
                progress.WriteLine($"  {now * 100 / seeds}% ({now:N0} of {seeds:N0} seeds)");
            }
        };
    }

    private static int Replay(SimulatorArguments arguments, TextWriter output)
    {
        Scenario scenario = ScenarioDraw.FromSeed(arguments.Start, arguments.Plant);
        RunResult result = Simulation.Run(scenario, keepTrace: true);
        output.WriteLine(scenario.Describe());
        foreach (var fault in scenario.Faults)
        {
            output.WriteLine($"  fault: {fault}");
        }

        foreach (string line in result.TraceLines)
        {
            output.WriteLine(line);
        }

        output.WriteLine(result.Summary);
        output.WriteLine($"trace hash {result.TraceHash:x16}, {result.Events} events, {result.SimulatedUs / 1000.0:F1} ms simulated");
        foreach (string v in result.Violations)
        {
            output.WriteLine($"VIOLATION {v}");
        }

        output.WriteLine($"seeds: {(result.Passed ? 1 : 0)} passed, {(result.Passed ? 0 : 1)} failed");
        return result.Passed ? 0 : 1;
    }

    private static void Print(BatchReport report, SimulatorArguments arguments, TextWriter output)
    {
        foreach (RunResult failure in report.Failures.Take(5))
        {
            PrintFailure(failure, "failing seed", output);
            if (arguments.Shrink)
            {
                RunResult smallest = Shrinker.Shrink(failure);
                PrintFailure(smallest, "shrunk to", output);
                output.WriteLine($"  replay: dotnet run --project sim/Replicator.Sim -c Release -- --seed {failure.Scenario.Seed} --trace{(arguments.Plant == Core.Testing.PlantedBug.None ? string.Empty : $" --plant {SimulatorArguments.PlantName(arguments.Plant)}")}");
            }
        }

        foreach (string d in report.DeterminismFailures)
        {
            output.WriteLine(d);
        }

        double wall = report.Wall.TotalSeconds;
        output.WriteLine($"{report.Seeds} seeds in {wall:F1} s: {report.Events:N0} events ({report.Events / Math.Max(wall, 1e-9):N0} events/s), " +
            $"{report.SimulatedUs / 1e6:F1} s simulated ({report.SimulatedUs / 1e6 / Math.Max(wall, 1e-9):F1}x wall clock), {report.Commits:N0} epochs committed");
        output.WriteLine($"determinism: {report.DeterminismChecked} seeds run twice, {report.DeterminismFailures.Count} differed");
        if (report.Failbacks.Count > 0)
        {
            long Of(FailbackSync kind) => report.Failbacks.GetValueOrDefault(kind);
            output.WriteLine($"failbacks: {Of(FailbackSync.Changes) + Of(FailbackSync.WholeImage) + Of(FailbackSync.AfterSplitBrain)} synced back — {Of(FailbackSync.Changes)} from the changes alone, {Of(FailbackSync.WholeImage)} whole, {Of(FailbackSync.AfterSplitBrain)} whole after a split brain; {report.SwitchedOver} of them after a switchover");
            output.WriteLine($"witness: {report.WitnessSeeds} seeds with one, {report.WitnessVotes} promotions voted, {report.PrimariesSuperseded} old primaries superseded");
        }

        if (arguments.Plant != Core.Testing.PlantedBug.None)
        {
            output.WriteLine($"planted {SimulatorArguments.PlantName(arguments.Plant)}: first caught by seed {report.FirstFailingSeed?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}, after {report.SeedsUntilFirstFailure} seeds");
        }

        output.WriteLine($"seeds: {report.Seeds - report.FailedCount} passed, {report.FailedCount} failed");
    }

    private static void PrintFailure(RunResult result, string title, TextWriter output)
    {
        output.WriteLine($"{title}: {result.Scenario.Describe()}");
        foreach (var fault in result.Scenario.Faults)
        {
            output.WriteLine($"  fault: {fault}");
        }

        foreach (string v in result.Violations.Take(5))
        {
            output.WriteLine($"  {v}");
        }
    }
}
