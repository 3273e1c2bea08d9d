namespace Replicator.Core.Secondary;

/// <summary>What the secondary did with a record or checkpoint it received.</summary>
public enum MirrorOutcome
{
    /// <summary>Kept in its epoch's buffer.</summary>
    Buffered,

    /// <summary>An identical copy was already held; this one was dropped.</summary>
    Duplicate,

    /// <summary>It belongs to an epoch already sealed or committed; dropped.</summary>
    Stale,

    /// <summary>The node no longer follows a primary (promoted): nothing from the old primary is taken (I6).</summary>
    Refused,

    /// <summary>It was bad; its epoch is refused and the primary told why.</summary>
    Rejected,
}
