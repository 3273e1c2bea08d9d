using MessagePack;

namespace Replicator.Protocol.Messages;

/// <summary>
/// A planned switchover: the primary stopped taking guest writes, its last checkpoint
/// (<see cref="Epoch"/>) is acknowledged, and the secondary is to take over from exactly it. The
/// primary then becomes the new primary's secondary.
/// </summary>
[MessagePackObject]
public sealed partial class SwitchoverMessage
{
    [Key(0)]
    public long Epoch { get; set; }
}
