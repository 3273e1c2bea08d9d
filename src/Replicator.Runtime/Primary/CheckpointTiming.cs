namespace Replicator.Runtime.Primary;

/// <summary>
/// How one checkpoint went, measured on the primary: how long the guest was paused (admission
/// stopped → resumed: drain plus capture), and the epoch-commit latency (checkpoint start →
/// acknowledgement received).
/// </summary>
public readonly record struct CheckpointTiming(long Epoch, TimeSpan Pause, TimeSpan Commit);
