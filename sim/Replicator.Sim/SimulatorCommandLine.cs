using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using Replicator.Core.Testing;

namespace Replicator.Sim;

/// <summary>
/// The simulator's command line, parsed strictly: typed values naming the option in the error,
/// misspelt options refused with a suggestion, <c>--help</c>, and exit code 2 for a usage error.
/// </summary>
internal static class SimulatorCommandLine
{
    public const int UsageError = 2;

    /// <summary>The arguments, or null after writing what is wrong (and the usage) to <paramref name="errors"/>.</summary>
    public static SimulatorArguments? Parse(string[] args, TextWriter errors, out int exitCode)
    {
        var seeds = new Option<long>("--seeds") { Description = "run seeds S .. S+N-1", DefaultValueFactory = _ => 1000 };
        seeds.Validators.Add(r => Positive(r, "--seeds"));
        var start = new Option<long>("--start") { Description = "the first seed", DefaultValueFactory = _ => 1 };
        var seed = new Option<long?>("--seed") { Description = "run (or with --trace replay) one seed" };
        var trace = new Option<bool>("--trace") { Description = "print the seed's readable event trace" };
        var noShrink = new Option<bool>("--no-shrink") { Description = "report failing seeds without shrinking them" };
        var maxFailures = new Option<int?>("--max-failures") { Description = "stop after this many failing seeds" };
        maxFailures.Validators.Add(r => Positive(r, "--max-failures"));
        var plant = new Option<string?>("--plant") { Description = "switch on a planted bug: " + string.Join(", ", PlantNames) };
        plant.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } name && !SimulatorArguments.TryParsePlant(name, out _))
            {
                r.AddError($"--plant '{name}' is not a planted bug: {string.Join(", ", PlantNames)}");
            }
        });
        var root = new RootCommand("The deterministic simulator: seeded runs of the real hosts over a simulated network, disks and clock, with faults, checked against the invariants.")
        {
            seeds, start, seed, trace, noShrink, maxFailures, plant,
        };
        root.Validators.Add(r =>
        {
            if (r.GetValue(trace) && r.GetValue(seed) is null)
            {
                r.AddError("--trace replays one seed: give --seed S");
            }
        });

        ParseResult parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            parsed.InvocationConfiguration.Error = errors;
            parsed.InvocationConfiguration.Output = errors;
            new ParseErrorAction { ShowHelp = true, ShowTypoCorrections = true }.Invoke(parsed);
            exitCode = UsageError;
            return null;
        }

        if (parsed.Action is HelpAction)
        {
            parsed.InvocationConfiguration.Output = errors;
            exitCode = parsed.Invoke();
            return null;
        }

        exitCode = 0;
        long? one = parsed.GetValue(seed);
        string? planted = parsed.GetValue(plant);
        return new SimulatorArguments
        {
            Start = one ?? parsed.GetValue(start),
            Seeds = one is null ? parsed.GetValue(seeds) : 1,
            Trace = parsed.GetValue(trace),
            Shrink = !parsed.GetValue(noShrink),
            MaxFailures = parsed.GetValue(maxFailures) ?? int.MaxValue,
            Plant = planted is not null && SimulatorArguments.TryParsePlant(planted, out PlantedBug bug) ? bug : PlantedBug.None,
        };
    }

    private static IEnumerable<string> PlantNames =>
        Enum.GetValues<PlantedBug>().Where(p => p != PlantedBug.None).Select(SimulatorArguments.PlantName);

    private static void Positive(OptionResult result, string name)
    {
        if (result.Tokens.Count > 0 && long.TryParse(result.Tokens[0].Value, System.Globalization.CultureInfo.InvariantCulture, out long value) && value <= 0)
        {
            result.AddError($"{name} must be a positive number");
        }
    }
}
