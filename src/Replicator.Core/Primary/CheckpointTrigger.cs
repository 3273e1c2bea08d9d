namespace Replicator.Core.Primary;

/// <summary>Why a checkpoint was asked for.</summary>
public enum CheckpointTrigger
{
    /// <summary>The epoch interval elapsed.</summary>
    Interval,

    /// <summary>An operator or a test asked for one and waits for its acknowledgement.</summary>
    Explicit,

    /// <summary>The secondary's buffer nears its bound: close the epoch early so it can commit and drain.</summary>
    BufferPressure,

    /// <summary>The resync's last copy is in this epoch: close it, so the pair is protected without waiting for the interval.</summary>
    ResyncCopied,
}
