namespace Replicator.Cli.Bench;

/// <summary><c>replicator bench [--quick] [--json PATH] [--plot PATH.svg] [--seed N] [--dir DIR] [--floor-only]</c>, as parsed.</summary>
internal sealed record BenchArguments(bool Quick, string? JsonPath, string? PlotPath, int Seed, string? Directory, bool FloorOnly = false);
