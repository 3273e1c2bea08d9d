using MessagePack;
using Replicator.Protocol.Generations;

namespace Replicator.Protocol.Witness;

/// <summary>The witness → a node (<see cref="Framing.FrameType.WitnessAnswer"/>): the verdict on one request.</summary>
[MessagePackObject]
public sealed partial class WitnessAnswerMessage
{
    [Key(0)]
    public WitnessRequestKind Kind { get; set; }

    [Key(1)]
    public WitnessVerdict Verdict { get; set; }

    /// <summary>The request's <see cref="WitnessRequestMessage.SentAt"/>, unchanged.</summary>
    [Key(2)]
    public long SentAt { get; set; }

    /// <summary>Why not, for an operator to read; null when granted.</summary>
    [Key(3)]
    public string? Reason { get; set; }

    /// <summary>The generations the witness holds for the pair's writer, after this request.</summary>
    [Key(4)]
    public DataGenerations PairGenerations { get; set; } = DataGenerations.None;
}
