using MessagePack;

namespace Replicator.Protocol.Messages;

/// <summary>Either way, before closing: why.</summary>
[MessagePackObject]
public sealed partial class ErrorMessage
{
    [Key(0)]
    public string Reason { get; set; } = string.Empty;

    /// <summary>
    /// The sender was promoted (or its generation moved on) and will never follow the receiver
    /// again: a primary must not retry (I6). False for refusals that may pass, like a busy link.
    /// </summary>
    [Key(1)]
    public bool Fenced { get; set; }
}
