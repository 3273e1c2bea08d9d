namespace Replicator.Hosts.Primary;

/// <summary>What a primary with a witness does with a guest request it completes while it sees no majority.</summary>
public enum NoQuorumPolicy
{
    /// <summary>Hold the answer until a majority is back (then send it) or the node learns it was superseded (then fail it).</summary>
    SuspendIo,

    /// <summary>Fail it at once with an I/O error.</summary>
    IoError,
}
