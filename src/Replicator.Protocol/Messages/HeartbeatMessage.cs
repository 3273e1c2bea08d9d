using MessagePack;

namespace Replicator.Protocol.Messages;

/// <summary>Either way: alive, with the sender's progress (current epoch on the primary, last committed on the secondary).</summary>
[MessagePackObject]
public sealed partial class HeartbeatMessage
{
    [Key(0)]
    public long Epoch { get; set; }

    /// <summary>
    /// The primary's lease probe: on a primary's heartbeat, when it was sent (a timestamp on the
    /// primary's own clock); on a secondary's, the last probe it received from its current primary,
    /// echoed unchanged (0: none yet). A secondary that received a probe promises not to promote
    /// before its heartbeat timeout has run from then, so the primary may count the echo as a lease
    /// running from the probe's own send time.
    /// </summary>
    [Key(1)]
    public long Probe { get; set; }

    /// <summary>On a secondary's echo: how long after receiving the probe it will not promote (its heartbeat timeout), in milliseconds.</summary>
    [Key(2)]
    public int PromiseMilliseconds { get; set; }
}
