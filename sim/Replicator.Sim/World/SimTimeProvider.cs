namespace Replicator.Sim.World;

/// <summary>
/// The virtual clock as a <see cref="TimeProvider"/>, for the hosts: timestamps are simulated
/// microseconds. Hosts never create timers (their shells do), so none are offered.
/// </summary>
internal sealed class SimTimeProvider(SimScheduler clock) : TimeProvider
{
    public override long TimestampFrequency => 1_000_000;

    public override long GetTimestamp() => clock.Now;

    public override DateTimeOffset GetUtcNow() => DateTimeOffset.UnixEpoch.AddTicks(clock.Now * 10);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        throw new NotSupportedException("simulated hosts get no timers: their shell schedules events on the virtual clock");
}
