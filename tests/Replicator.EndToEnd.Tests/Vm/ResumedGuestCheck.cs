using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Replicator.Qemu.Guests;
using Xunit.Abstractions;

namespace Replicator.EndToEnd.Tests.Vm;

/// <summary>
/// The end of every VM failover test: one more acknowledged checkpoint, the primary killed with its
/// QEMU (SIGKILL), the secondary promoted, and the guest it resumes checked against what the old
/// guest printed (its counter) and against the promoted disk (its records).
/// </summary>
internal static partial class ResumedGuestCheck
{
    public static async Task FailOverAndCheckAsync(VmPair pair, ITestOutputHelper output)
    {
        // The value the guest had printed before a checkpoint began: every later checkpoint holds it or more.
        long printedBefore = CountingGuest.Counters(pair.PrimaryConsole)[^1];
        long startedAfter = await pair.Daemons.CheckpointAsync();

        // SIGKILL of the process tree: the daemon and its QEMU (a child of the daemon) die at once.
        pair.Primary.Kill();
        await pair.Primary.WaitForExitAsync();
        long lastPrintedByOld = CountingGuest.Counters(pair.PrimaryConsole)[^1];
        Assert.Empty(CountingGuest.FailedWrites(pair.PrimaryConsole));

        (int code, string answer) = await ReplicatorProcess.RunAsync("failover", "--state-dir", pair.Daemons.SecondaryState);
        Assert.True(code == 0, $"failover failed: {answer}\n{pair.Secondary.Output}");
        long takenOver = JsonNode.Parse(answer)!["epoch"]!.GetValue<long>();
        Assert.True(takenOver >= startedAfter, $"took over checkpoint {takenOver}, before the acknowledged {startedAfter}");
        await pair.Secondary.WaitForOutputAsync("the guest runs again from checkpoint");
        Match resumed = ResumedLine().Match(pair.Secondary.Output);
        output.WriteLine($"old guest printed up to {lastPrintedByOld}; before checkpoint {startedAfter} it had printed {printedBefore}; took over {takenOver}; {resumed.Value}");

        await GuestConsole.WaitForCountersAsync(pair.SecondaryConsole, 30, "the resumed guest counting", pair.Secondary);
        CheckResumedCounters(CountingGuest.Counters(pair.SecondaryConsole), printedBefore, startedAfter, lastPrintedByOld);
        Assert.Empty(CountingGuest.FailedWrites(pair.SecondaryConsole));
        await CheckDiskAfterCleanStopAsync(pair);
    }

    /// <summary>Never from before the last acknowledged checkpoint, never from the future of the old guest, and counting on one by one.</summary>
    private static void CheckResumedCounters(IReadOnlyList<long> resumed, long printedBefore, long startedAfter, long lastPrintedByOld)
    {
        long first = resumed[0];
        Assert.True(first >= printedBefore, $"the resumed guest began at {first}, before {printedBefore}, which checkpoint {startedAfter} already held");
        Assert.True(first <= lastPrintedByOld + 1, $"the resumed guest began at {first}, beyond what the old guest reached ({lastPrintedByOld})");
        for (int i = 1; i < resumed.Count; i++)
        {
            Assert.Equal(resumed[i - 1] + 1, resumed[i]);
        }
    }

    /// <summary>
    /// Stopped cleanly, the promoted image holds every value the resumed guest printed, each at its
    /// sector, in one unbroken run. (A disk newer than the RAM it resumed with would be rewritten
    /// with the same records by the resumed guest, so this cannot tell disk and memory from one
    /// instant apart from a disk ahead of the RAM; the adapter's own test, QemuEndToEndTests,
    /// checks that with a copy of the disk made during the pause.)
    /// </summary>
    private static async Task CheckDiskAfterCleanStopAsync(VmPair pair)
    {
        long lastPrinted = CountingGuest.Counters(pair.SecondaryConsole)[^1];
        await pair.Secondary.TerminateAsync();
        int code = await pair.Secondary.WaitForExitAsync();
        Assert.True(code == 0, $"the promoted node stopped with exit code {code}:\n{pair.Secondary.Output}");
        Dictionary<int, long> records = CountingGuest.Records(await File.ReadAllBytesAsync(pair.Daemons.SecondaryImage));
        long highest = records.Values.Max();
        Assert.True(highest >= lastPrinted, $"the disk's newest record is {highest}, older than the printed {lastPrinted}");
        for (long v = Math.Max(1, highest - CountingGuest.RecordSectors + 1); v <= highest; v++)
        {
            int sector = (int)(v % CountingGuest.RecordSectors);
            Assert.True(records.TryGetValue(sector, out long at) && at == v, $"sector {sector} holds {(records.TryGetValue(sector, out long held) ? held : -1)}, not {v}");
        }
    }

    [GeneratedRegex(@"the guest runs again from checkpoint \d+, \d+ ms after the promotion[^\n]*")]
    private static partial Regex ResumedLine();
}
