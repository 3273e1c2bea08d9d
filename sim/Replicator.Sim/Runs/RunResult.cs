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
    string Summary,
    FailbackSync Failback = FailbackSync.None,
    bool SwitchedOver = false,
    WitnessOutcome Witness = default)
{
    public bool Passed => Violations.Count == 0;
}

/// <summary>What a run's witness did: promotions it voted for, and whether the old primary learnt it was superseded.</summary>
internal readonly record struct WitnessOutcome(bool Present, int Votes, bool PrimarySuperseded);

/// <summary>How a run's failback synced the old primary, if it ran one.</summary>
internal enum FailbackSync
{
    None,

    /// <summary>Only what either side wrote since the takeover was copied.</summary>
    Changes,

    /// <summary>The whole image was copied (the old primary could not say what it wrote, or the new primary no longer counted from the takeover).</summary>
    WholeImage,

    /// <summary>The old primary had written alone: a split brain, resolved by discarding its data, then a whole-image copy.</summary>
    AfterSplitBrain,
}
