namespace Replicator.Protocol.Generations;

/// <summary>
/// The handshake's table: from the two nodes' data generations, how their data relates and what the
/// primary does about it. The one place this is decided; both hosts ask it. See docs/design.md,
/// "Data generations".
/// </summary>
/// <remarks>
/// | relation | decision |
/// | --- | --- |
/// | secondary blank | full sync |
/// | same generation | replicate (after copying what the primary may have written past the secondary's checkpoint) |
/// | secondary behind | resync the regions written since |
/// | secondary ahead | refuse: the secondary's writes would be lost |
/// | diverged | refuse: split brain, the operator chooses |
/// | unrelated | full sync if the operator allowed it, else refuse |
/// </remarks>
public static class GenerationTable
{
    private const string DiscardHint = "run `replicator discard-my-data --state-dir DIR` on the node whose writes are to be thrown away (with that node stopped), then start it as the secondary";

    /// <summary>How the secondary's data relates to the primary's.</summary>
    public static PairRelation Relate(DataGenerations primary, DataGenerations secondary)
    {
        ArgumentNullException.ThrowIfNull(primary);
        ArgumentNullException.ThrowIfNull(secondary);
        if (secondary.IsBlank)
        {
            return PairRelation.SecondaryBlank;
        }

        if (primary.IsBlank)
        {
            // A primary with no data of its own (its data was discarded) has nothing to give a node that has some.
            return PairRelation.SecondaryAhead;
        }

        if (primary.Current!.Equals(secondary.Current))
        {
            return PairRelation.SameGeneration;
        }

        bool behind = primary.History.Contains(secondary.Current!);
        bool ahead = secondary.History.Contains(primary.Current);

        // Each having left the other's current generation is no history two nodes can make:
        // whatever produced it, neither side's data can be trusted over the other's.
        return behind && ahead ? PairRelation.Diverged
            : behind ? PairRelation.SecondaryBehind
            : ahead ? PairRelation.SecondaryAhead
            : CommonAncestor(primary, secondary) is not null ? PairRelation.Diverged
            : PairRelation.Unrelated;
    }

    /// <summary>
    /// What the primary does with this secondary. <paramref name="fullSyncAllowed"/> is the operator's
    /// permission to copy the whole image over a secondary whose data is not known to be this pair's.
    /// </summary>
    public static GenerationVerdict Decide(DataGenerations primary, DataGenerations secondary, bool fullSyncAllowed)
    {
        PairRelation relation = Relate(primary, secondary);
        return relation switch
        {
            PairRelation.SecondaryBlank => new(SyncDecision.FullSync, relation, null),
            PairRelation.SameGeneration => new(SyncDecision.Replicate, relation, null),
            PairRelation.SecondaryBehind => new(SyncDecision.Resync, relation, null),
            PairRelation.SecondaryAhead => new(SyncDecision.RefuseSecondaryAhead, relation, ExplainAhead(primary, secondary)),
            PairRelation.Diverged => new(SyncDecision.RefuseDiverged, relation, ExplainDiverged(primary, secondary)),
            _ when fullSyncAllowed => new(SyncDecision.FullSync, relation, null),
            _ => new(SyncDecision.RefuseUnrelated, relation, $"the two images have no data generation in common (the primary holds {primary}, the secondary {secondary}): nothing says the secondary's image is this pair's data. To copy the primary's whole image over it, start the primary with --allow-full-sync, or {DiscardHint}"),
        };
    }

    /// <summary>The newest generation both nodes held, or null.</summary>
    public static GenerationMark? CommonAncestor(DataGenerations primary, DataGenerations secondary)
    {
        ArgumentNullException.ThrowIfNull(primary);
        ArgumentNullException.ThrowIfNull(secondary);
        return primary.Lineage().FirstOrDefault(secondary.Holds);
    }

    private static string ExplainAhead(DataGenerations primary, DataGenerations secondary)
    {
        if (primary.Current is not { } left)
        {
            return $"this primary holds no data generation (its data was discarded) and the secondary holds {secondary}: replicating over it would lose that data. Start this node as the secondary instead";
        }

        return $"the secondary holds newer data than this primary: it left {left.Describe()}, which this primary still holds, and wrote on in {FirstAfter(secondary, left).Describe()}; replicating over it would lose those writes. To keep them, this node must follow that one instead; to keep this node's data, {DiscardHint}";
    }

    private static string ExplainDiverged(DataGenerations primary, DataGenerations secondary)
    {
        GenerationMark? common = CommonAncestor(primary, secondary);
        string since = common is null ? "each other's current data" : common.Describe();
        string primaryWrote = WroteSince(primary, common);
        string secondaryWrote = WroteSince(secondary, common);
        return $"split brain: both nodes wrote alone after {since} — this primary in {primaryWrote}, the secondary in {secondaryWrote}. Neither image is copied over the other without an operator's choice: {DiscardHint}";
    }

    /// <summary>"generation X (…, since …)", and where the node is now if it began more generations since.</summary>
    private static string WroteSince(DataGenerations node, GenerationMark? common)
    {
        GenerationMark first = common is null ? node.Current! : FirstAfter(node, common);
        return first.Equals(node.Current) ? first.Describe() : $"{first.Describe()} and on to {node.Current!.Describe()}";
    }

    /// <summary>The generation that <paramref name="node"/> began right after <paramref name="ancestor"/>.</summary>
    private static GenerationMark FirstAfter(DataGenerations node, GenerationMark ancestor)
    {
        GenerationMark after = node.Current!;
        foreach (GenerationMark mark in node.Lineage())
        {
            if (mark.Equals(ancestor))
            {
                return after;
            }

            after = mark;
        }

        return after;
    }
}
