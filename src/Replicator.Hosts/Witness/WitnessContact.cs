namespace Replicator.Hosts.Witness;

/// <summary>Where a node stands with its witness, for its status and decisions.</summary>
public enum WitnessContact
{
    /// <summary>No attempt yet, or between attempts.</summary>
    Unreachable,

    /// <summary>A connection is being opened.</summary>
    Connecting,

    /// <summary>Connected and answering.</summary>
    Connected,
}
