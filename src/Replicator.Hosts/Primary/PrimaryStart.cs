namespace Replicator.Hosts.Primary;

/// <summary>How the primary's start ended.</summary>
public enum PrimaryStartOutcome
{
    /// <summary>The engine runs: over an accepted link, or alone with replication off.</summary>
    Running,

    /// <summary>The secondary could not be reached, or did not answer the hello in time.</summary>
    Unreachable,

    /// <summary>The secondary is not this pair's as configured, or its images may differ: an operator must act.</summary>
    Refused,

    /// <summary>The secondary was promoted or moved to a newer generation: this primary must never write to it (I6).</summary>
    Fenced,
}

/// <summary>The start's outcome and, unless running, the reason an operator reads.</summary>
public readonly record struct PrimaryStart(PrimaryStartOutcome Outcome, string? Reason)
{
    public static PrimaryStart Running { get; } = new(PrimaryStartOutcome.Running, null);
}

/// <summary>Where the host's link to the secondary stands: what the status shows.</summary>
public enum PrimaryLinkState
{
    /// <summary>Not started yet.</summary>
    Starting,

    /// <summary>A link carries the stream.</summary>
    Connected,

    /// <summary>Replication is off: there is no secondary.</summary>
    Unreplicated,

    /// <summary>The secondary fenced this primary: no more attempts (<see cref="PrimaryHost.FencedReason"/>).</summary>
    Fenced,

    /// <summary>The secondary is lost and reconnection is off.</summary>
    LostForGood,

    /// <summary>The secondary is lost; attempts to reach it again run with backoff.</summary>
    Reconnecting,
}
