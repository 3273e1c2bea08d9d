using MessagePack;
using Replicator.Core.Primary;

namespace Replicator.Protocol.Messages;

/// <summary>
/// The primary resyncs the secondary on this link: it confirms the checkpoint the secondary holds
/// and names where its new stream of epochs and sequence numbers begins (a jump the secondary
/// accepts only because of this message), and how much it will copy.
/// </summary>
[MessagePackObject]
public sealed partial class ResyncStartMessage
{
    /// <summary>The checkpoint the secondary said it holds; the copy is relative to it.</summary>
    [Key(0)]
    public long BaseEpoch { get; set; }

    [Key(1)]
    public long FirstEpoch { get; set; }

    [Key(2)]
    public long FirstSequence { get; set; }

    /// <summary>Regions to copy, and their bytes: for the operator's view of progress.</summary>
    [Key(3)]
    public int Regions { get; set; }

    [Key(4)]
    public long Bytes { get; set; }

    /// <summary>Every region is copied: the secondary's image was blank or not known to be this pair's.</summary>
    [Key(5)]
    public bool WholeImage { get; set; }

    /// <summary>The primary's data generations: the secondary takes them once the copy completes, and not before.</summary>
    [Key(6)]
    public Generations.DataGenerations Generations { get; set; } = Replicator.Protocol.Generations.DataGenerations.None;

    /// <summary>The wire form of the engine's plan.</summary>
    public static ResyncStartMessage From(ResyncPlan plan, Generations.DataGenerations generations)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(generations);
        return new ResyncStartMessage
        {
            BaseEpoch = plan.BaseEpoch,
            FirstEpoch = plan.FirstEpoch,
            FirstSequence = plan.FirstSequence,
            Regions = plan.Regions,
            Bytes = plan.Bytes,
            WholeImage = plan.WholeImage,
            Generations = generations,
        };
    }
}
