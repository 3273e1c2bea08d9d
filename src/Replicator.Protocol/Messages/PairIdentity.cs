using MessagePack;

namespace Replicator.Protocol.Messages;

/// <summary>
/// What makes two images a pair: a pair id fixed when the pair is created and the image geometry,
/// so a node never replicates into the wrong image. Which of the two holds the valid data is the
/// data generations' to say (<see cref="Generations.DataGenerations"/>), not the identity's.
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

    // Key 3 held a failover counter before data generations replaced it (protocol 3); not reused.

    /// <summary>The largest request either side accepts: a record larger than the peer's bound could never be buffered there.</summary>
    [Key(4)]
    public int MaxRequestBytes { get; set; }

    public override string ToString() => $"pair {PairId}, {ImageBytes} bytes in {BlockSize}-byte blocks (requests up to {MaxRequestBytes})";
}
