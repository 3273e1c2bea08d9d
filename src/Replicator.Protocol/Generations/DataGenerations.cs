using MessagePack;

namespace Replicator.Protocol.Generations;

/// <summary>
/// A node's data generations: the one its image holds now and the ones it held before, newest
/// first. Kept in the node's state record and sent in the handshake, so the two nodes can tell
/// which of them holds the pair's valid data, and whether their histories diverged
/// (<see cref="GenerationTable"/>).
/// </summary>
/// <remarks>
/// A primary draws a new generation when it starts the pair, and whenever it starts writing with no
/// secondary following; a secondary draws one when it is promoted. A secondary takes its primary's
/// current generation when it commits a checkpoint that leaves its image complete (not mid-resync):
/// from then on both hold the same data. Instances are never changed once made: every change
/// returns a new one, so a record handed to a store or a frame stays what it was.
/// </remarks>
[MessagePackObject]
public sealed partial class DataGenerations
{
    /// <summary>How many earlier generations are kept: enough for any chain of failovers an operator resolves one at a time.</summary>
    public const int MaxHistory = 16;

    /// <summary>None: a node that never held this pair's data (a blank secondary).</summary>
    public static DataGenerations None { get; } = new();

    /// <summary>The generation the image holds, or null for a node that never held this pair's data.</summary>
    [Key(0)]
    public GenerationMark? Current { get; set; }

    /// <summary>Earlier generations, newest first, at most <see cref="MaxHistory"/>.</summary>
    [Key(1)]
    public IReadOnlyList<GenerationMark> History { get; set; } = [];

    [IgnoreMember]
    public bool IsBlank => Current is null;

    /// <summary>The node begins <paramref name="next"/>: its current generation becomes history.</summary>
    public DataGenerations Begin(GenerationMark next)
    {
        ArgumentNullException.ThrowIfNull(next);
        if (next.Equals(Current))
        {
            return this;
        }

        List<GenerationMark> history = new(MaxHistory);
        if (Current is not null)
        {
            history.Add(Current);
        }

        foreach (GenerationMark earlier in History)
        {
            if (history.Count == MaxHistory)
            {
                break;
            }

            if (!earlier.Equals(next) && !history.Contains(earlier))
            {
                history.Add(earlier);
            }
        }

        return new DataGenerations { Current = next, History = history };
    }

    /// <summary>Whether <paramref name="mark"/> is this node's current generation or one of its earlier ones.</summary>
    public bool Holds(GenerationMark? mark) => mark is not null && (mark.Equals(Current) || History.Contains(mark));

    /// <summary>The current generation, then the earlier ones: the node's line of descent, newest first.</summary>
    public IEnumerable<GenerationMark> Lineage()
    {
        if (Current is not null)
        {
            yield return Current;
        }

        foreach (GenerationMark earlier in History)
        {
            yield return earlier;
        }
    }

    /// <summary>Why a peer's generations cannot be taken as sent (an empty current id, too long a history), or null.</summary>
    public string? Problem() =>
        Current is { Id: 0 } ? "a current data generation with id 0"
        : History is null ? "no history list"
        : History.Count > MaxHistory ? $"{History.Count} earlier data generations (at most {MaxHistory})"
        : History.Any(m => m is null || m.Id == 0) ? "an earlier data generation with id 0"
        : null;

    public override string ToString() => Current is null ? "no data generation (blank)" : Current.Describe();
}
