namespace Replicator.Core.Testing;

/// <summary>
/// Deliberate defects that the simulator (and tests) switch on, one at a time, to show that their
/// checkers catch a core that breaks an invariant. The daemons never set one: no setting, switch
/// or environment variable reaches them. Each names the rule it breaks.
/// </summary>
public enum PlantedBug
{
    None,

    /// <summary>The primary captures the VM state without waiting for the requests in flight (breaks I1).</summary>
    SkipDrain,

    /// <summary>The secondary seals an epoch once its checkpoint arrived, missing records or not, and skips the digest (breaks I3).</summary>
    CommitWithGap,

    /// <summary>The secondary applies an epoch without the flushes the primary recorded (breaks I4).</summary>
    IgnoreBarriers,

    /// <summary>The secondary acknowledges an epoch when it is sealed, before its journal entry is durable (breaks I2/I5).</summary>
    AckBeforeCommit,

    /// <summary>The primary releases output one epoch before it is acknowledged (breaks I5).</summary>
    EarlyOutput,

    /// <summary>Failover throws away committed epochs not yet applied to the image (breaks I2).</summary>
    DiscardCommitted,

    /// <summary>The primary issues overlapping writes at once, so the order the secondary applies may differ from the primary's disk (breaks I1).</summary>
    NoOverlapOrder,

    /// <summary>Journal recovery skips a damaged entry and replays the whole ones after it, instead of ending there (breaks I3/I4).</summary>
    JournalSkipBadEntry,

    /// <summary>The secondary's host acknowledges an epoch as it hands it to the journal, before the journal's flush completed (breaks I2/I5).</summary>
    AckBeforeJournalDurable,

    /// <summary>The secondary's host welcomes a primary while an epoch is half way into the journal, so the welcome misstates what it holds (breaks I1/I7).</summary>
    WelcomeBeforeSettled,

    /// <summary>A promoted node accepts its old primary: no generation or role check in the handshake (breaks I6).</summary>
    NoGenerationCheck,

    /// <summary>A primary restarted after a crash trusts its dirty log's bitmap alone, forgetting the extents that were hot (breaks I1: a region is missed).</summary>
    DirtyLogForgetsHotExtents,

    /// <summary>The dirty log clears bits without flushing the primary's image first, so a power cut can take back a write the bitmap no longer names (breaks I1).</summary>
    DirtyLogClearsUnflushed,

    /// <summary>Verify reads skip the overlap ordering, so a read may see a guest write admitted after it (a verify then reports blocks that do not differ).</summary>
    VerifyUnordered,

    /// <summary>A failback copies only what the new primary wrote since the takeover, not the old primary's own writes, so those are never rolled back (breaks I7).</summary>
    FailbackKeepsOldWrites,
}
