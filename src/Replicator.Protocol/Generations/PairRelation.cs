namespace Replicator.Protocol.Generations;

/// <summary>
/// How the data a primary holds relates to the data a secondary holds, from their data generations
/// (<see cref="GenerationTable.Relate"/>). Data flows from the primary to the secondary, so the
/// relation is said from the secondary's side.
/// </summary>
public enum PairRelation
{
    /// <summary>The secondary never held this pair's data (a new node, or one whose data was discarded).</summary>
    SecondaryBlank,

    /// <summary>Both hold the same generation: they differ at most by the primary's epochs not yet committed there.</summary>
    SameGeneration,

    /// <summary>The secondary holds a generation the primary left: the primary wrote on since, the secondary did not.</summary>
    SecondaryBehind,

    /// <summary>The primary holds a generation the secondary left: the secondary wrote on since (it was promoted), the primary did not.</summary>
    SecondaryAhead,

    /// <summary>Both left a generation they shared and wrote on, each alone: split brain.</summary>
    Diverged,

    /// <summary>No generation in common: nothing says how the two images relate.</summary>
    Unrelated,
}
