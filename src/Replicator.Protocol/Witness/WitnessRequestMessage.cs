using MessagePack;
using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;

namespace Replicator.Protocol.Witness;

/// <summary>A node → its witness (<see cref="Framing.FrameType.WitnessRequest"/>).</summary>
[MessagePackObject]
public sealed partial class WitnessRequestMessage
{
    [Key(0)]
    public int ProtocolVersion { get; set; }

    /// <summary>The pair the node belongs to: the witness keeps one record per pair.</summary>
    [Key(1)]
    public string PairId { get; set; } = string.Empty;

    [Key(2)]
    public NodeRole Role { get; set; }

    [Key(3)]
    public WitnessRequestKind Kind { get; set; }

    /// <summary>The node's data generations: current first, then its history.</summary>
    [Key(4)]
    public DataGenerations Generations { get; set; } = DataGenerations.None;

    /// <summary>For a vote: the generation the node will begin when it promotes (drawn before it asks, so the witness records it).</summary>
    [Key(5)]
    public GenerationMark? Proposed { get; set; }

    /// <summary>When the node sent this, on its own clock: echoed in the answer, so a lease runs from here.</summary>
    [Key(6)]
    public long SentAt { get; set; }

    /// <summary>For a lease: how long the node will count on it; the witness votes for no promotion until that has passed since it read this.</summary>
    [Key(7)]
    public int LeaseMilliseconds { get; set; }
}
