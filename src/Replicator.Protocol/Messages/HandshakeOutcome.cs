namespace Replicator.Protocol.Messages;

/// <summary>How a handshake ends: decided once, by type, never read back out of a message's words.</summary>
public enum HandshakeOutcome
{
    /// <summary>The peer is this pair's, at a compatible generation and role: replicate.</summary>
    Accepted,

    /// <summary>
    /// The peer cannot be this node's partner as configured (version, pair, image size, block size,
    /// largest request): a misconfiguration an operator must fix. Retrying does not help.
    /// </summary>
    Incompatible,

    /// <summary>
    /// The peer is this pair's but a failover happened since (a newer generation, or a promoted
    /// node): the old primary must never write to it again (I6).
    /// </summary>
    Fenced,
}
