namespace Replicator.Protocol.Generations;

/// <summary>The decision, the relation it was made from, and (for a refusal) what an operator reads.</summary>
public readonly record struct GenerationVerdict(SyncDecision Decision, PairRelation Relation, string? Explanation)
{
    public bool IsRefusal => Decision is SyncDecision.RefuseUnrelated or SyncDecision.RefuseSecondaryAhead or SyncDecision.RefuseDiverged;
}
