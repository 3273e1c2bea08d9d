namespace Replicator.InMemory;

/// <summary>
/// The in-memory pair's virtual clock, as its hosts read time: timestamps in microseconds that move
/// only when the pair's driver moves them, so a run is the same whatever the machine's speed. Hosts
/// create no timers (their shell fires them), so none are offered.
/// </summary>
internal sealed class PairClock : TimeProvider
{
    // The hosts take a timestamp of 0 for "never": the clock starts a second later than that.
    private long _now = 1_000_000;

    public override long TimestampFrequency => 1_000_000;

    public override long GetTimestamp() => _now;

    public override DateTimeOffset GetUtcNow() => DateTimeOffset.UnixEpoch.AddTicks(_now * 10);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        throw new NotSupportedException("the in-memory pair's hosts get no timers: its driver fires them");

    /// <summary>The timestamp <paramref name="delay"/> from now.</summary>
    public long After(TimeSpan delay) => _now + (long)delay.TotalMicroseconds;

    public void Advance(TimeSpan by) => _now += (long)by.TotalMicroseconds;

    /// <summary>Moves the clock on to <paramref name="timestamp"/>; never back.</summary>
    public void AdvanceTo(long timestamp) => _now = Math.Max(_now, timestamp);
}
