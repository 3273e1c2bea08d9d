using Replicator.Core.Guest;

namespace Replicator.InMemory;

/// <summary>Settings of an in-memory primary/secondary pair driven by one seeded event loop.</summary>
public sealed record InMemoryPairOptions
{
    public SyntheticGuestOptions Guest { get; init; } = new();

    /// <summary>Seeds the scheduler's choices (which event happens next), apart from the guest's own seed.</summary>
    public int Seed { get; init; } = 1;

    public long SecondaryBufferBytes { get; init; } = 4 << 20;

    /// <summary>Guest requests in flight at most (submitted, not completed).</summary>
    public int QueueDepth { get; init; } = 8;

    /// <summary>Scheduler steps between interval checkpoints: the epoch length in virtual time.</summary>
    public int CheckpointIntervalSteps { get; init; } = 200;

    public int MaxUnacknowledgedCheckpoints { get; init; } = 4;

    /// <summary>Chance per guest request that the guest also emits output for the outside world.</summary>
    public double OutputProbability { get; init; } = 0.2;
}
