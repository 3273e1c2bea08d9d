namespace Replicator.Protocol.Messages;

/// <summary>What a node is, on the wire (Welcome) and in its state record. Values are fixed: both persist them.</summary>
public enum NodeRole
{
    /// <summary>An older peer that sent no role; treated as not following (I6).</summary>
    Unknown = 0,

    /// <summary>Follows a primary: takes its epochs, commits them, may be promoted.</summary>
    Secondary = 1,

    /// <summary>Accepts guest writes: a primary from the start, or a secondary that was promoted.</summary>
    Primary = 2,
}
