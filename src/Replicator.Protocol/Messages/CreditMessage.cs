using MessagePack;

namespace Replicator.Protocol.Messages;

/// <summary>Secondary → primary: this many bytes of buffer were freed.</summary>
[MessagePackObject]
public sealed partial class CreditMessage
{
    [Key(0)]
    public long Bytes { get; set; }
}
