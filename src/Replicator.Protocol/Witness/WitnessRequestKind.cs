namespace Replicator.Protocol.Witness;

/// <summary>What a node asks its witness. Values are fixed: they travel on the wire.</summary>
public enum WitnessRequestKind
{
    /// <summary>A primary asks to acknowledge guest writes of its current generation for a while.</summary>
    Lease = 1,

    /// <summary>A secondary whose primary went silent asks to promote itself into a new generation.</summary>
    Vote = 2,

    /// <summary>A secondary says it is alive and asks what the witness holds; nothing changes.</summary>
    Presence = 3,
}
