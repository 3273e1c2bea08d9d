using Microsoft.Extensions.Time.Testing;
using Replicator.Qemu.Processes;

namespace Replicator.Qemu.Tests;

public sealed class QemuConsoleTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(5);
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task A_line_already_retained_from_the_asked_number_on_is_found_at_once()
    {
        var console = new QemuConsole(_time);
        console.Append("counter 1");
        console.Append("counter 2");

        Assert.Equal("counter 1", await console.WaitForLineAsync(l => l.StartsWith("counter", StringComparison.Ordinal), 0, Limit));
        Assert.Equal("counter 2", await console.WaitForLineAsync(l => l.StartsWith("counter", StringComparison.Ordinal), 1, Limit));
        Assert.Equal(2, console.LineCount);
    }

    [Fact]
    public async Task A_later_line_completes_the_wait()
    {
        var console = new QemuConsole(_time);
        console.Append("counter 1");
        Task<string> waiting = console.WaitForLineAsync(l => l.StartsWith("counter", StringComparison.Ordinal), console.LineCount, Limit);
        Assert.False(waiting.IsCompleted);

        console.Append("booting");
        console.Append("counter 2");
        Assert.Equal("counter 2", await waiting);
    }

    [Fact]
    public async Task A_line_that_never_comes_times_out_on_the_clock_given()
    {
        var console = new QemuConsole(_time);
        Task<string> waiting = console.WaitForLineAsync(_ => true, 0, Limit);
        _time.Advance(Limit - TimeSpan.FromTicks(1));
        Assert.False(waiting.IsCompleted);
        _time.Advance(TimeSpan.FromTicks(1));
        await Assert.ThrowsAsync<TimeoutException>(() => waiting);
    }

    [Fact]
    public async Task A_console_that_closes_fails_the_waits_at_once()
    {
        var console = new QemuConsole(_time);
        Task<string> waiting = console.WaitForLineAsync(_ => true, 0, Limit);
        console.Close(new InvalidOperationException("QEMU exited"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => waiting);
        await Assert.ThrowsAsync<InvalidOperationException>(() => console.WaitForLineAsync(_ => true, 0, Limit));
    }

    [Fact]
    public void Only_the_most_recent_lines_are_kept()
    {
        var console = new QemuConsole(_time, retainedLines: 3);
        for (int i = 1; i <= 5; i++)
        {
            console.Append($"line {i}");
        }

        Assert.Equal(["line 3", "line 4", "line 5"], console.RecentLines());
        Assert.Equal(5, console.LineCount);
    }
}
