using Replicator.Core.Testing;

namespace Replicator.Sim;

/// <summary>The simulator's command line.</summary>
internal sealed record SimulatorArguments
{
    public long Start { get; init; } = 1;

    public long Seeds { get; init; } = 1000;

    public bool Trace { get; init; }

    public PlantedBug Plant { get; init; }

    public bool Shrink { get; init; } = true;

    /// <summary>Every this many seeds one is run twice, and the two traces must match.</summary>
    public int DeterminismEvery { get; init; } = 100;

    /// <summary>Stop after this many failing seeds (a planted bug fails most of them).</summary>
    public int MaxFailures { get; init; } = int.MaxValue;

    public const string Usage = """
        usage: Replicator.Sim [--seeds N] [--start S] [--plant NAME] [--no-shrink] [--max-failures N]
               Replicator.Sim --seed S [--trace] [--plant NAME]
          --seeds N         run seeds S .. S+N-1 (default 1000 from 1)
          --seed S --trace  replay one seed and print its readable event trace
          --plant NAME      switch on a planted bug: skip-drain, commit-with-gap, ignore-barriers,
                            ack-before-commit, early-output, discard-committed, no-overlap-order
          --no-shrink       report failing seeds without shrinking them
        """;

    public static SimulatorArguments Parse(string[] args, out string? error)
    {
        error = null;
        var parsed = new SimulatorArguments();
        for (int i = 0; i < args.Length; i++)
        {
            string flag = args[i];
            string? value = i + 1 < args.Length ? args[i + 1] : null;
            switch (flag)
            {
                case "--seeds" when long.TryParse(value, out long n) && n > 0:
                    parsed = parsed with { Seeds = n };
                    i++;
                    break;
                case "--start" when long.TryParse(value, out long s):
                    parsed = parsed with { Start = s };
                    i++;
                    break;
                case "--seed" when long.TryParse(value, out long one):
                    parsed = parsed with { Start = one, Seeds = 1 };
                    i++;
                    break;
                case "--trace":
                    parsed = parsed with { Trace = true };
                    break;
                case "--no-shrink":
                    parsed = parsed with { Shrink = false };
                    break;
                case "--max-failures" when int.TryParse(value, out int m) && m > 0:
                    parsed = parsed with { MaxFailures = m };
                    i++;
                    break;
                case "--plant" when value is not null && TryParsePlant(value, out PlantedBug plant):
                    parsed = parsed with { Plant = plant };
                    i++;
                    break;
                default:
                    error = $"unknown or incomplete argument '{flag}{(value is null ? string.Empty : " " + value)}'";
                    return parsed;
            }
        }

        return parsed;
    }

    public static bool TryParsePlant(string name, out PlantedBug plant) =>
        Enum.TryParse(name.Replace("-", string.Empty, StringComparison.Ordinal), ignoreCase: true, out plant) && plant != PlantedBug.None;

    public static string PlantName(PlantedBug plant) =>
        string.Concat(plant.ToString().Select((c, i) => char.IsUpper(c) && i > 0 ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
}
