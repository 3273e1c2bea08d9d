using MessagePack;

namespace Replicator.Protocol.Messages;

/// <summary>
/// What makes two images a pair: a pair id fixed when the pair is created, the image geometry,
/// and the generation, which the node that takes over at failover increments, so a node never
/// replicates into the wrong image and a stale primary is recognised (I6).
/// </summary>
[MessagePackObject]
public sealed partial class PairIdentity
{
    [Key(0)]
    public string PairId { get; set; } = string.Empty;

    [Key(1)]
    public long ImageBytes { get; set; }

    [Key(2)]
    public int BlockSize { get; set; }

    [Key(3)]
    public long Generation { get; set; }

    /// <summary>The largest request either side accepts: a record larger than the peer's bound could never be buffered there.</summary>
    [Key(4)]
    public int MaxRequestBytes { get; set; }

    public override string ToString() => $"pair {PairId}, {ImageBytes} bytes in {BlockSize}-byte blocks (requests up to {MaxRequestBytes}), generation {Generation}";
}
