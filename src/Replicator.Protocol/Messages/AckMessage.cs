using MessagePack;

namespace Replicator.Protocol.Messages;

/// <summary>Secondary → primary: this epoch and every earlier one are committed.</summary>
[MessagePackObject]
public sealed partial class AckMessage
{
    [Key(0)]
    public long Epoch { get; set; }
}
