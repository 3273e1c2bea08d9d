using MessagePack;

namespace Replicator.Protocol.Messages;

/// <summary>Secondary → primary: this epoch and every earlier one are committed.</summary>
[MessagePackObject]
public sealed partial class AckMessage
{
    [Key(0)]
    public long Epoch { get; set; }

    /// <summary>
    /// How the secondary spent this epoch's commit, so the primary can break its commit latency
    /// into phases; null from a secondary that does not measure. Optional: a peer that knows only
    /// key 0 skips it.
    /// </summary>
    [Key(1)]
    public AckTimings? Timings { get; set; }
}
