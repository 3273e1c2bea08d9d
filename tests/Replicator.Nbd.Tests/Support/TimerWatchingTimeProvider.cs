using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;

namespace Replicator.Nbd.Tests.Support;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that also tells the test each time the code under test starts a
/// timer (a delay, a timeout), so the test advances the clock only once the timer exists: no
/// polling, no sleeps, and no advance that comes too early and is lost.
/// </summary>
internal sealed class TimerWatchingTimeProvider : TimeProvider
{
    private readonly Channel<TimeSpan> _started = Channel.CreateUnbounded<TimeSpan>();

    public FakeTimeProvider Fake { get; } = new();

    public override long TimestampFrequency => Fake.TimestampFrequency;

    public override long GetTimestamp() => Fake.GetTimestamp();

    public override DateTimeOffset GetUtcNow() => Fake.GetUtcNow();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ITimer timer = Fake.CreateTimer(callback, state, dueTime, period);
        _started.Writer.TryWrite(dueTime);
        return timer;
    }

    /// <summary>Completes once the next timer due after <paramref name="dueTime"/> has started, passing over others (fails after <see cref="Deadline.Wait"/>).</summary>
    public async Task TimerStartedAsync(TimeSpan dueTime)
    {
        CancellationToken deadline = Deadline.Token();
        while (await _started.Reader.ReadAsync(deadline) != dueTime)
        {
        }
    }

    public void Advance(TimeSpan by) => Fake.Advance(by);
}
