using MessagePack;

namespace Replicator.Protocol.Messages;

/// <summary>The primary's first frame: protocol version and the identity of the image pair it protects.</summary>
[MessagePackObject]
public sealed partial class HelloMessage
{
    [Key(0)]
    public int ProtocolVersion { get; set; }

    [Key(1)]
    public PairIdentity Identity { get; set; } = new();
}
