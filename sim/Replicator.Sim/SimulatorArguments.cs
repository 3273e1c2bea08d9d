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

    public static bool TryParsePlant(string name, out PlantedBug plant) =>
        Enum.TryParse(name.Replace("-", string.Empty, StringComparison.Ordinal), ignoreCase: true, out plant) && plant != PlantedBug.None;

    public static string PlantName(PlantedBug plant) =>
        string.Concat(plant.ToString().Select((c, i) => char.IsUpper(c) && i > 0 ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
}
