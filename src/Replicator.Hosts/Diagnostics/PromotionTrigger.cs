namespace Replicator.Hosts.Diagnostics;

/// <summary>What started a promotion: the <c>trigger</c> tag of <c>replicator.failovers</c>.</summary>
public enum PromotionTrigger
{
    /// <summary><c>replicator failover</c>.</summary>
    Operator,

    /// <summary>Auto-failover: the witness's vote or the fence command's success.</summary>
    Automatic,

    /// <summary>The primary handed over at a checkpoint (a planned switchover).</summary>
    Switchover,

    /// <summary><c>--failover-discarding-unverifiable-epochs</c> at start.</summary>
    Forced,

    /// <summary>A node that was promoted before it stopped, coming back promoted: not a new failover.</summary>
    Restart,
}
