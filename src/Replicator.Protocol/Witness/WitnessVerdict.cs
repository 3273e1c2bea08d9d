namespace Replicator.Protocol.Witness;

/// <summary>The witness's answer. Values are fixed: they travel on the wire.</summary>
public enum WitnessVerdict
{
    /// <summary>The lease, the vote or the presence is granted.</summary>
    Granted = 1,

    /// <summary>Not now: it may pass later (a lease of the primary still runs, the witness just started).</summary>
    Refused = 2,

    /// <summary>
    /// Never: the pair's data moved on to a generation the asker lacks — a primary was taken over, or
    /// a secondary's primary went on writing without it. The asker must not try again with these generations.
    /// </summary>
    Superseded = 3,
}
