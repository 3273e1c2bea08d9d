using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Replicator.Runtime.Control;

namespace Replicator.Runtime.Tests.Control;

/// <summary><c>replicator events</c>: the whole state first, then only what changed, a role change whole again.</summary>
public sealed class StatusEventsTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    [Fact]
    public async Task The_state_comes_whole_first_then_only_its_changes_and_progress_is_never_a_change()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
        var now = new StatusSample("primary", new JsonObject { ["Replication"] = "Protected", ["CurrentEpoch"] = 7, ["Degraded"] = null });
        using var stop = new CancellationTokenSource();
        await using IAsyncEnumerator<JsonObject> events = new StatusEvents(() => now, time, Interval).StreamAsync(stop.Token).GetAsyncEnumerator();

        Assert.True(await events.MoveNextAsync());
        Assert.Equal(
            """{"time":"2026-12-02T10:00:00.000Z","type":"exists","role":"primary","state":{"Replication":"Protected","CurrentEpoch":7,"Degraded":null}}""",
            events.Current.ToJsonString());

        // Only the epoch moves: no line. Then replication degrades: one line with what changed.
        now = new StatusSample("primary", new JsonObject { ["Replication"] = "Protected", ["CurrentEpoch"] = 8, ["Degraded"] = null });
        Task<bool> next = events.MoveNextAsync().AsTask();
        time.Advance(Interval);
        Assert.False(next.IsCompleted);
        now = new StatusSample("primary", new JsonObject { ["Replication"] = "Degraded", ["CurrentEpoch"] = 9, ["Degraded"] = "cable pulled" });
        time.Advance(Interval);
        Assert.True(await next);
        Assert.Equal(
            """{"time":"2026-12-02T10:00:00.200Z","type":"change","role":"primary","changes":{"Replication":"Degraded","Degraded":"cable pulled"}}""",
            events.Current.ToJsonString());

        // A new role: the whole state again, under it.
        now = new StatusSample("promoted", new JsonObject { ["Replication"] = "Degraded", ["CurrentEpoch"] = 1 });
        next = events.MoveNextAsync().AsTask();
        time.Advance(Interval);
        Assert.True(await next);
        Assert.Equal("role", events.Current["type"]!.GetValue<string>());
        Assert.Equal("promoted", events.Current["role"]!.GetValue<string>());
        Assert.Equal(1, events.Current["state"]!["CurrentEpoch"]!.GetValue<int>());

        next = events.MoveNextAsync().AsTask();
        await stop.CancelAsync();
        Assert.False(await next);
    }

    [Fact]
    public async Task A_field_that_goes_away_is_a_change_to_null()
    {
        var time = new FakeTimeProvider();
        var now = new StatusSample("witness", new JsonObject { ["Pair a"] = "held by its primary" });
        using var stop = new CancellationTokenSource();
        await using IAsyncEnumerator<JsonObject> events = new StatusEvents(() => now, time, Interval).StreamAsync(stop.Token).GetAsyncEnumerator();
        Assert.True(await events.MoveNextAsync());

        now = new StatusSample("witness", new JsonObject());
        Task<bool> next = events.MoveNextAsync().AsTask();
        time.Advance(Interval);
        Assert.True(await next);
        Assert.Equal("""{"Pair a":null}""", events.Current["changes"]!.ToJsonString());
        await stop.CancelAsync();
    }
}
