using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Replicator.Qemu.Guests;
using Xunit.Abstractions;

namespace Replicator.EndToEnd.Tests.Vm;

/// <summary>
/// The pair protecting a real QEMU guest: the daemons run it (<c>--vm qemu</c>), the primary dies
/// with its QEMU (SIGKILL), and the promoted secondary resumes the guest from the checkpoint it
/// took over, on its own export.
/// </summary>
public sealed partial class VmFailoverTests(ITestOutputHelper output)
{
    private const string RamKb = "131072";

    // Bounds of the waits (never assertions about speed): TCG on two shared cores is slow.
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(3);

    [VmFact]
    public async Task A_guest_killed_with_its_primary_counts_on_from_the_checkpoint_taken_over()
    {
        CountingGuestFiles guest = CountingGuestConfig.Build();
        var pair = new DaemonPair { PrimaryOnUnixSocket = true };
        pair.CreateImages(DaemonPair.ImageBytes, DaemonPair.ImageBytes);
        string primaryVm = CountingGuestConfig.Write(guest, Path.GetDirectoryName(pair.PrimaryImage)!, "primary", out string primaryRam);
        string secondaryVm = CountingGuestConfig.Write(guest, Path.GetDirectoryName(pair.PrimaryImage)!, "secondary", out string secondaryRam);
        try
        {
            await FailOverAsync(pair, primaryVm, secondaryVm);
        }
        finally
        {
            // The daemons are stopped (or killed) by now or by the pair's disposal; the guest's
            // RAM files are 128 MiB of tmpfs each and would outlive them.
            await pair.DisposeAsync();
            File.Delete(primaryRam);
            File.Delete(secondaryRam);
        }
    }

    private async Task FailOverAsync(DaemonPair pair, string primaryVm, string secondaryVm)
    {
        // A whole-RAM checkpoint is one 128 MiB frame: the link's silence bound leaves room for it.
        string[] common = ["--vm", "qemu", "--ram-kb", RamKb, "--heartbeat-timeout-ms", "10000", "--ack-timeout-ms", "10000"];
        pair.StartSecondary([.. common, "--vm-config", secondaryVm]);
        await pair.Secondary!.WaitForOutputAsync("listening for the primary");
        ReplicatorProcess primary = ReplicatorProcess.Start([
            "primary", "--image", pair.PrimaryImage, "--peer", $"127.0.0.1:{pair.SecondaryPort}", "--nbd", $"unix:{pair.PrimarySocket}",
            "--state-dir", pair.PrimaryState, "--skip-initial-sync", "--link-key", pair.LinkKey, "--epoch-ms", "50", .. common, "--vm-config", primaryVm]);
        await using ReplicatorProcess owned = primary;
        await primary.WaitForOutputAsync("QEMU started");

        // The guest boots and counts; the pair checkpoints it dozens of times.
        string oldConsole = Path.Combine(pair.PrimaryState, "vm-console.log");
        await WaitForConsoleAsync(oldConsole, 20, "the guest counting on the primary", primary);

        // Each `checkpoint` returns once its checkpoint is acknowledged (interval ones come between).
        long firstAcknowledged = await pair.CheckpointAsync();
        while (await pair.CheckpointAsync() < firstAcknowledged + 40)
        {
        }

        // The value the guest had printed before a checkpoint began: every later checkpoint holds it or more.
        long printedBefore = CountingGuest.Counters(oldConsole)[^1];
        long startedAfter = await pair.CheckpointAsync();

        // SIGKILL: the daemon and its QEMU (a child of the daemon) die at once.
        primary.Kill();
        await primary.WaitForExitAsync();
        IReadOnlyList<long> old = CountingGuest.Counters(oldConsole);
        long lastPrintedByOld = old[^1];

        (int code, string answer) = await ReplicatorProcess.RunAsync("failover", "--state-dir", pair.SecondaryState);
        Assert.True(code == 0, $"failover failed: {answer}\n{pair.Secondary.Output}");
        long takenOver = JsonNode.Parse(answer)!["epoch"]!.GetValue<long>();
        Assert.True(takenOver >= startedAfter, $"took over checkpoint {takenOver}, before the acknowledged {startedAfter}");
        await pair.Secondary.WaitForOutputAsync("the guest runs again from checkpoint");
        Match resumed = ResumedLine().Match(pair.Secondary.Output);
        output.WriteLine($"old guest printed up to {lastPrintedByOld}; before checkpoint {startedAfter} it had printed {printedBefore}; took over {takenOver}; {resumed.Value}");

        string newConsole = Path.Combine(pair.SecondaryState, "vm-console.log");
        await WaitForConsoleAsync(newConsole, 30, "the resumed guest counting", pair.Secondary);
        IReadOnlyList<long> resumedValues = CountingGuest.Counters(newConsole);
        long first = resumedValues[0];

        // Never from before the last acknowledged checkpoint, never from the future of the old guest.
        Assert.True(first >= printedBefore, $"the resumed guest began at {first}, before {printedBefore}, which checkpoint {startedAfter} already held");
        Assert.True(first <= lastPrintedByOld + 1, $"the resumed guest began at {first}, beyond what the old guest reached ({lastPrintedByOld})");
        for (int i = 1; i < resumedValues.Count; i++)
        {
            Assert.Equal(resumedValues[i - 1] + 1, resumedValues[i]);
        }

        // The disk: stopped cleanly, the promoted image holds every value the resumed guest printed,
        // each at its sector, in one unbroken run. (A disk newer than the RAM it resumed with would
        // be rewritten with the same records by the resumed guest, so this cannot tell disk and
        // memory from one instant apart from a disk ahead of the RAM; the adapter's own test,
        // QemuEndToEndTests, checks that with a copy of the disk made during the pause.)
        long lastPrinted = CountingGuest.Counters(newConsole)[^1];
        await pair.Secondary.TerminateAsync();
        Dictionary<int, long> records = CountingGuest.Records(await File.ReadAllBytesAsync(pair.SecondaryImage));
        long highest = records.Values.Max();
        Assert.True(highest >= lastPrinted, $"the disk's newest record is {highest}, older than the printed {lastPrinted}");
        for (long v = Math.Max(1, highest - CountingGuest.RecordSectors + 1); v <= highest; v++)
        {
            Assert.True(records.TryGetValue((int)(v % CountingGuest.RecordSectors), out long at) && at == v, $"sector {v % CountingGuest.RecordSectors} holds {(records.TryGetValue((int)(v % CountingGuest.RecordSectors), out long x) ? x : -1)}, not {v}");
        }
    }

    /// <summary>
    /// Until the console log holds <paramref name="count"/> counter lines: looked at again each time
    /// the file changes (no clock in the loop), failing with the daemon's output if it exits or the
    /// bound passes first.
    /// </summary>
    private static async Task WaitForConsoleAsync(string console, int count, string what, ReplicatorProcess process)
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
        Task exited = process.WaitForExitAsync();
        while (CountingGuest.Counters(console).Count < count)
        {
            Task next = changed.WaitAsync(bound.Token);
            Assert.True(await Task.WhenAny(next, exited) == next, $"the daemon exited while waiting for {what}:\n{process.Output}");
            Assert.False(next.IsCanceled, $"no {what} within {Bound.TotalMinutes} minutes:\n{process.Output}");
        }
    }

    [GeneratedRegex(@"the guest runs again from checkpoint \d+, \d+ ms after the promotion[^\n]*")]
    private static partial Regex ResumedLine();
}
