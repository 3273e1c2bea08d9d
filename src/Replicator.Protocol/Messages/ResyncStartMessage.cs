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

    /// <summary>The wire form of the engine's plan.</summary>
    public static ResyncStartMessage From(ResyncPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return new ResyncStartMessage
        {
            BaseEpoch = plan.BaseEpoch,
            FirstEpoch = plan.FirstEpoch,
            FirstSequence = plan.FirstSequence,
            Regions = plan.Regions,
            Bytes = plan.Bytes,
        };
    }
}
