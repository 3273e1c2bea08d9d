namespace Replicator.Hosts.Secondary;

/// <summary>
/// When one epoch reached each step of its commit and apply on the secondary
/// (<see cref="TimeProvider"/> timestamps; 0 where not taken). They become the acknowledgement's timings.
/// </summary>
public readonly record struct EpochStamps(
    long Received = 0,
    long JournalStarted = 0,
    long JournalWritten = 0,
    long JournalSynced = 0,
    long ApplyStarted = 0,
    long ApplyEnded = 0);
