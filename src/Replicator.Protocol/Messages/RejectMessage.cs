using MessagePack;

namespace Replicator.Protocol.Messages;

/// <summary>Secondary → primary: this epoch was refused and will never commit.</summary>
[MessagePackObject]
public sealed partial class RejectMessage
{
    [Key(0)]
    public long Epoch { get; set; }

    [Key(1)]
    public string Reason { get; set; } = string.Empty;
}
