namespace Replicator.Hosts.Primary;

/// <summary>How a planned switchover ended on the primary, and what it is now.</summary>
public enum SwitchoverOutcome
{
    /// <summary>The secondary took over at the last checkpoint: this node is to follow it as a secondary.</summary>
    TakenOver,

    /// <summary>
    /// The handover was sent and the link ended without an answer: the secondary may have taken
    /// over. This node must not write again as a primary (two writers); it follows as a secondary,
    /// and if nobody took over an operator fails over to either node.
    /// </summary>
    Unconfirmed,

    /// <summary>The secondary refused the handover: this node is still the pair's primary.</summary>
    Refused,

    /// <summary>The last checkpoint was never acknowledged (or the pair was not protected): nothing was handed over.</summary>
    NotHandedOver,
}

/// <summary>A switchover's outcome, the checkpoint handed over at (0 when none) and what an operator reads.</summary>
public readonly record struct SwitchoverResult(SwitchoverOutcome Outcome, long Epoch, string Detail)
{
    /// <summary>Whether this node gave up the primary role (it becomes a secondary).</summary>
    public bool GaveUpPrimaryRole => Outcome is SwitchoverOutcome.TakenOver or SwitchoverOutcome.Unconfirmed;
}
