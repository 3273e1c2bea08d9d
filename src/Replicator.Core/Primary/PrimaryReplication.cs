namespace Replicator.Core.Primary;

/// <summary>Whether the secondary follows the primary.</summary>
public enum PrimaryReplication
{
    /// <summary>Every epoch is mirrored and committed on the secondary; output is released on commit.</summary>
    Protected,

    /// <summary>The secondary is lost: writes are local only and the dirty-region map records what it lacks.</summary>
    Degraded,

    /// <summary>
    /// A new link is up: epochs are mirrored again while the regions the secondary lacks are copied
    /// from the primary's disk. Protected again once the epoch holding the last copy is acknowledged.
    /// </summary>
    Resyncing,
}
