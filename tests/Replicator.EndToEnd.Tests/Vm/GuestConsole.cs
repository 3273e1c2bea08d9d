using System.Globalization;
using System.Text.RegularExpressions;
using Replicator.Qemu.Guests;

namespace Replicator.EndToEnd.Tests.Vm;

/// <summary>
/// The counting guest's serial console as a daemon appends it to <c>vm-console.log</c>: its
/// counters, its heavy-write passes, and waits for what it prints next.
/// </summary>
internal static partial class GuestConsole
{
    /// <summary>Bound of a wait on the guest (never an assertion about speed): TCG on two shared cores is slow.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromMinutes(3);

    /// <summary>The number of the last heavy-write pass the console reports done (0 before the first).</summary>
    public static long HeavyPasses(string console) =>
        Lines(console).Select(line => HeavyPassLine().Match(line)).Where(m => m.Success).Select(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).LastOrDefault();

    /// <summary>The lines in which the guest reports a write that failed (a counter's record or a heavy pass).</summary>
    public static IReadOnlyList<string> FailedWrites(string console) =>
        Lines(console).Where(line => line.EndsWith(" failed", StringComparison.Ordinal)).ToList();

    /// <summary>Until the console holds <paramref name="count"/> counter lines.</summary>
    public static Task WaitForCountersAsync(string console, int count, string what, ReplicatorProcess daemon) =>
        WaitUntilAsync(console, () => CountingGuest.Counters(console).Count >= count, what, daemon);

    /// <summary>Until the console reports heavy-write pass <paramref name="pass"/> done.</summary>
    public static Task WaitForHeavyPassAsync(string console, long pass, string what, ReplicatorProcess daemon) =>
        WaitUntilAsync(console, () => HeavyPasses(console) >= pass, what, daemon);

    /// <summary>
    /// Until <paramref name="done"/> holds: looked at again each time the console file changes (no
    /// clock in the loop), failing with the daemon's output if it exits or the bound passes first.
    /// </summary>
    private static async Task WaitUntilAsync(string console, Func<bool> done, string what, ReplicatorProcess daemon)
    {
        using var changed = new SemaphoreSlim(0);
        using var watcher = new FileSystemWatcher(Path.GetDirectoryName(console)!, Path.GetFileName(console))
        {
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size,
        };
        FileSystemEventHandler wake = (_, _) => changed.Release();
        watcher.Changed += wake;
        watcher.Created += wake;
        watcher.EnableRaisingEvents = true;
        using var bound = new CancellationTokenSource(Bound);
        Task exited = daemon.WhenExited();
        while (!done())
        {
            Task next = changed.WaitAsync(bound.Token);
            Assert.True(await Task.WhenAny(next, exited) == next, $"the daemon exited while waiting for {what}:\n{daemon.Output}");
            Assert.False(next.IsCanceled, $"not seen within {Bound.TotalMinutes} minutes: {what}\n{daemon.Output}");
        }
    }

    private static List<string> Lines(string console)
    {
        var lines = new List<string>();
        if (!File.Exists(console))
        {
            return lines;
        }

        using var stream = new FileStream(console, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line)
        {
            lines.Add(line);
        }

        return lines;
    }

    // A restored guest's first line may follow a partial one: no anchor at the start.
    [GeneratedRegex(@"heavy pass (\d+)$")]
    private static partial Regex HeavyPassLine();
}
