using MessagePack;

namespace Replicator.Protocol.Messages;

/// <summary>Either way, before closing: why.</summary>
[MessagePackObject]
public sealed partial class ErrorMessage
{
    [Key(0)]
    public string Reason { get; set; } = string.Empty;
}
