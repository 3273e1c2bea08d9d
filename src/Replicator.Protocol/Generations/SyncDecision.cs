namespace Replicator.Protocol.Generations;

/// <summary>What a primary does with a secondary, decided by <see cref="GenerationTable.Decide"/>.</summary>
public enum SyncDecision
{
    /// <summary>Replicate; first copy what the primary wrote after the secondary's checkpoint, if it may have written anything.</summary>
    Replicate,

    /// <summary>Copy the regions the primary wrote since the secondary's generation, while the guest runs, then replicate.</summary>
    Resync,

    /// <summary>Copy the whole image, while the guest runs, then replicate.</summary>
    FullSync,

    /// <summary>The images have no generation in common and the operator has not allowed a full sync over the secondary.</summary>
    RefuseUnrelated,

    /// <summary>The secondary holds newer data than the primary: writing to it would lose the secondary's writes.</summary>
    RefuseSecondaryAhead,

    /// <summary>Split brain: both wrote alone. Only an operator may say whose writes are thrown away.</summary>
    RefuseDiverged,
}
