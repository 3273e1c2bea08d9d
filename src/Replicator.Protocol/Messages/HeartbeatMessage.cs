using MessagePack;

namespace Replicator.Protocol.Messages;

/// <summary>Either way: alive, with the sender's progress (current epoch on the primary, last committed on the secondary).</summary>
[MessagePackObject]
public sealed partial class HeartbeatMessage
{
    [Key(0)]
    public long Epoch { get; set; }
}
