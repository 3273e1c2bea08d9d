using System.Globalization;

namespace Replicator.Cli.Bench;

/// <summary><c>replicator bench [--quick] [--json PATH] [--plot PATH] [--seed N] [--dir DIR]</c>.</summary>
internal sealed record BenchArguments(bool Quick, string? JsonPath, string? PlotPath, int Seed, string? Directory)
{
    /// <summary>The arguments, or null after telling <paramref name="errors"/> what is wrong.</summary>
    public static BenchArguments? Parse(string[] args, TextWriter errors)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(errors);
        var result = new BenchArguments(false, null, null, 1, null);
        for (int i = 0; i < args.Length; i++)
        {
            string? value = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i])
            {
                case "--quick":
                    result = result with { Quick = true };
                    continue;
                case "--json" when value is not null:
                    result = result with { JsonPath = value };
                    break;
                case "--plot" when value is not null && value.EndsWith(".svg", StringComparison.OrdinalIgnoreCase):
                    result = result with { PlotPath = value };
                    break;
                case "--plot":
                    errors.WriteLine("bench: --plot PATH writes SVG: give a path ending in .svg");
                    return null;
                case "--seed" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int seed):
                    result = result with { Seed = seed };
                    break;
                case "--dir" when value is not null:
                    result = result with { Directory = value };
                    break;
                default:
                    errors.WriteLine($"bench: unknown or malformed option '{args[i]}' (expected --quick, --json PATH, --plot PATH.svg, --seed N, --dir DIR)");
                    return null;
            }

            i++;
        }

        return result;
    }
}
