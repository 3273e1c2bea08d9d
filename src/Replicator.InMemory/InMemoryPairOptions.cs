using Replicator.Core.Guest;

namespace Replicator.InMemory;

/// <summary>
/// Settings of an in-memory pair: the daemons' two hosts driven by one seeded event loop. Time is
/// virtual: every event the scheduler picks is one step, and a step is one millisecond.
/// </summary>
public sealed record InMemoryPairOptions
{
    public SyntheticGuestOptions Guest { get; init; } = new();

    /// <summary>Seeds the scheduler's choices (which event happens next), apart from the guest's own seed.</summary>
    public int Seed { get; init; } = 1;

    public long SecondaryBufferBytes { get; init; } = 4 << 20;

    /// <summary>Committed bytes the secondary may hold for its write-back with their credit returned.</summary>
    public long SecondaryWritebackBytes { get; init; } = 4 << 20;

    /// <summary>Guest requests in flight at most (submitted, not completed).</summary>
    public int QueueDepth { get; init; } = 8;

    /// <summary>Scheduler steps between the primary's epoch timer ticks: the epoch length in virtual time.</summary>
    public int CheckpointIntervalSteps { get; init; } = 200;

    public int MaxUnacknowledgedCheckpoints { get; init; } = 4;

    /// <summary>Chance per guest request that the guest also emits output for the outside world.</summary>
    public double OutputProbability { get; init; } = 0.2;

    /// <summary>The largest request both hosts accept (part of the pair's identity); null: the guest's largest write.</summary>
    public int? MaxRequestBytes { get; init; }

    /// <summary>Granularity of the primary's map of regions the secondary may lack, so a resync of a small disk copies several.</summary>
    public int DirtyRegionBytes { get; init; } = 64 << 10;

    /// <summary>The primary's dirty log: extents kept hot (0: none) and their size.</summary>
    public int ActivityLogExtents { get; init; } = 2;

    public int ActivityExtentBytes { get; init; } = 256 << 10;

    /// <summary>Scheduler steps between both hosts' heartbeat timer ticks.</summary>
    public int HeartbeatIntervalSteps { get; init; } = 100;

    /// <summary>A link silent this long is lost. Far above the heartbeat interval: links here are lost only when a test cuts them.</summary>
    public TimeSpan HeartbeatTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The primary's first wait before it reconnects a lost secondary; it doubles up to <see cref="ReconnectMaxDelay"/>.</summary>
    public TimeSpan ReconnectDelay { get; init; } = TimeSpan.FromMilliseconds(10);

    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromMilliseconds(80);
}
