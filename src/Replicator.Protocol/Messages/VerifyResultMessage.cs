using MessagePack;

namespace Replicator.Protocol.Messages;

/// <summary>
/// Secondary → primary: the verify record <see cref="Sequence"/> of <see cref="Epoch"/> was compared
/// with the secondary's image at its place in the sequence; <see cref="Diverged"/> holds the byte
/// offsets of the blocks whose hashes differ (empty: the range is equal).
/// </summary>
[MessagePackObject]
public sealed partial class VerifyResultMessage
{
    [Key(0)]
    public long Epoch { get; set; }

    [Key(1)]
    public long Sequence { get; set; }

    [Key(2)]
    public long Offset { get; set; }

    [Key(3)]
    public int Length { get; set; }

    [Key(4)]
    public long[] Diverged { get; set; } = [];
}
