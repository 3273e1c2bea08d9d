namespace Replicator.Core.Secondary;

/// <summary>Where the secondary is in its life.</summary>
public enum SecondaryPhase
{
    /// <summary>Following the primary: buffering, committing and applying epochs.</summary>
    Replicating,

    /// <summary>
    /// An epoch was refused (bad record, gap, digest mismatch, bound exceeded): nothing after the
    /// last committed epoch can commit until a resync. Committed epochs still apply; failover still works.
    /// </summary>
    Stalled,

    /// <summary>Failover asked for: incomplete epochs are gone, committed ones are draining into the image.</summary>
    Promoting,

    /// <summary>Failover done: this node's image and VM state are one checkpoint, ready to serve.</summary>
    Promoted,
}
