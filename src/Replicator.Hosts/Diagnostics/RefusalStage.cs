namespace Replicator.Hosts.Diagnostics;

/// <summary>Where a connection was refused: the <c>stage</c> tag of <c>replicator.connections.refused</c>.</summary>
public enum RefusalStage
{
    /// <summary>Before the peer proved the pair key: a stranger, a bad handshake, a full connection limit.</summary>
    Transport,

    /// <summary>After the key: the hello named another pair, an older generation, a fenced primary.</summary>
    Handshake,
}
