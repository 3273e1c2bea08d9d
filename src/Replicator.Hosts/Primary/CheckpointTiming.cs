using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Primary;

/// <summary>
/// How one checkpoint went, measured on the primary: how long the guest was paused (admission
/// stopped → resumed: drain plus capture), and the epoch-commit latency (checkpoint start →
/// acknowledgement received), with its phases.
/// </summary>
public readonly record struct CheckpointTiming(long Epoch, TimeSpan Pause, TimeSpan Commit)
{
    /// <summary>Checkpoint start → the last in-flight request completed (admission stopped meanwhile).</summary>
    public TimeSpan Drain { get; init; }

    /// <summary>Drained → the checkpoint (VM state, digests) encoded and handed to the link.</summary>
    public TimeSpan Capture { get; init; }

    /// <summary>
    /// The rest of the commit latency: the link both ways (the epoch's last records and its
    /// checkpoint out, the acknowledgement back) and both sides' receive hand-offs. Commit minus
    /// every other phase; without the secondary's timings, everything after capture.
    /// </summary>
    public TimeSpan Link { get; init; }

    /// <summary>The RAM pages the checkpoint carried, in bytes as captured.</summary>
    public long PageBytes { get; init; }

    /// <summary>What those pages took on the link, encoded as the link agreed (<see cref="PageBytes"/> when they went whole).</summary>
    public long PageWireBytes { get; init; }

    /// <summary>The secondary's own measurements of this commit (queue, journal write, flush, ack; the last apply), if it sent them.</summary>
    public AckTimings? Secondary { get; init; }
}
