namespace Replicator.Sim.Runs;

/// <summary>What one run of one scenario found.</summary>
internal sealed record RunResult(
    Scenario Scenario,
    IReadOnlyList<string> Violations,
    long Events,
    long SimulatedUs,
    ulong TraceHash,
    long Commits,
    IReadOnlyList<string> TraceLines,
    string Summary)
{
    public bool Passed => Violations.Count == 0;
}
