using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Replicator.Cli.Diagnostics;
using Replicator.Qemu.Guests;
using Replicator.Runtime.Control;

namespace Replicator.Cli.Commands;

/// <summary>
/// <c>replicator demo --vm</c>: the demo's story with a real QEMU guest. The daemons run the
/// counting guest (<see cref="CountingGuest"/>) on the primary's export and checkpoint it at
/// 20 Hz; the primary daemon and its QEMU are killed (SIGKILL) at a random moment; the secondary
/// is promoted and resumes the guest from the checkpoint it took over. The verdict: the resumed
/// guest counts on from a value that checkpoint held — never from before the last acknowledged
/// checkpoint, never from beyond what the dead guest reached — and the promoted disk holds every
/// value it printed.
/// </summary>
internal static class VmDemoCommand
{
    private const int EpochMs = 50;

    public static async Task<int> RunAsync(int seed, TextWriter output)
    {
        if (CountingGuest.CannotRun is { } why)
        {
            output.WriteLine($"replicator demo --vm: {why}");
            return 1;
        }

        output.WriteLine($"Replicator demo --vm: seed {seed}; a QEMU guest ({CountingGuest.MemoryMiB} MiB of RAM, TCG) counting on a {VmPairRun.DiskMiB} MiB disk, checkpoints every {EpochMs} ms");
        try
        {
            output.WriteLine("  the pair starts, and QEMU boots the guest on the primary's export (TCG: a few seconds)");
            await using VmPairRun pair = await VmPairRun.StartAsync(output, EpochMs, "demo-vm").ConfigureAwait(false);
            return await RunAsync(pair, new Random(seed), output).ConfigureAwait(false);
        }
        catch (CountingGuestBuildException e)
        {
            output.WriteLine($"replicator demo --vm: the guest cannot be built: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException or OperationCanceledException)
        {
            // A daemon that stopped, a control command refused, a bound passed: the story did not end as it must.
            output.WriteLine($"  problem: {e.Message}");
            output.WriteLine("verdict: FAIL");
            return 1;
        }
    }

    private static async Task<int> RunAsync(VmPairRun pair, Random random, TextWriter output)
    {
        using var bound = new CancellationTokenSource(VmPairRun.Bound);

        // Measured from here: the pair in its steady state.
        await ControlClient.SendAsync(pair.PrimaryState, "checkpoint-stats --reset", bound.Token).ConfigureAwait(false);
        int runMs = random.Next(3_000, 6_000);
        output.WriteLine($"  the guest counts (counter {CountingGuest.Counters(pair.PrimaryConsole)[^1]}); running it for {runMs} ms, then killing the primary daemon and its QEMU (SIGKILL)");
        await Task.Delay(runMs).ConfigureAwait(false);

        // The value printed before a checkpoint began: every checkpoint acknowledged after it holds it or more.
        long printedBefore = CountingGuest.Counters(pair.PrimaryConsole)[^1];
        long acknowledged = (await ControlClient.SendAsync(pair.PrimaryState, "checkpoint", bound.Token).ConfigureAwait(false))!["acknowledged"]!.GetValue<long>();
        JsonNode? stats = await ControlClient.SendAsync(pair.PrimaryState, "checkpoint-stats", bound.Token).ConfigureAwait(false);
        await Task.Delay(random.Next(0, EpochMs)).ConfigureAwait(false);

        pair.KillPrimary();
        long lastPrintedByOld = CountingGuest.Counters(pair.PrimaryConsole)[^1];

        var failover = Stopwatch.StartNew();
        long epoch = (await ControlClient.SendAsync(pair.SecondaryState, "failover", bound.Token).ConfigureAwait(false))!["epoch"]!.GetValue<long>();
        double promotedMs = failover.Elapsed.TotalMilliseconds;
        string resumedLine = await pair.Resumed.WaitAsync(bound.Token).ConfigureAwait(false);
        IReadOnlyList<long> values = await CountingGuestConsoleWatch.WaitAsync(pair.SecondaryConsole, c => c.Count >= 20, pair.Secondary.WaitForExitAsync(CancellationToken.None), bound.Token).ConfigureAwait(false);

        // The image file alone holds what the node took over once the drain is over; the guest's
        // writes since are in it too (each written before its value is printed).
        await ControlClient.SendAsync(pair.SecondaryState, "drained", bound.Token).ConfigureAwait(false);
        long lastPrinted = CountingGuest.Counters(pair.SecondaryConsole)[^1];
        Dictionary<int, long> records = CountingGuest.Records(await File.ReadAllBytesAsync(pair.SecondaryImage).ConfigureAwait(false));

        var problems = new List<string>();
        if (epoch < acknowledged)
        {
            problems.Add($"I2: failover took over checkpoint {epoch}, before the acknowledged {acknowledged}");
        }

        long first = values[0];
        if (first < printedBefore)
        {
            problems.Add($"I2: the resumed guest began at {first}, before {printedBefore}, which acknowledged checkpoint {acknowledged} held");
        }

        if (first > lastPrintedByOld + 1)
        {
            problems.Add($"I1: the resumed guest began at {first}, beyond what the dead guest reached ({lastPrintedByOld})");
        }

        if (values.Zip(values.Skip(1)).FirstOrDefault(p => p.Second != p.First + 1) is { First: not 0 } gap)
        {
            problems.Add($"the resumed guest's counter jumped from {gap.First} to {gap.Second}");
        }

        if (MissingRecord(records, lastPrinted) is { } missing)
        {
            problems.Add($"I1: the promoted disk lacks the record of {missing}, which the resumed guest printed");
        }

        Report(output, stats, acknowledged, printedBefore, lastPrintedByOld, epoch, promotedMs, resumedLine, first, values.Count, lastPrinted, problems);
        return problems.Count == 0 ? 0 : 1;
    }

    /// <summary>The first value up to <paramref name="lastPrinted"/> (its last 1024, which the disk's 1024 sectors hold) with no record, or null.</summary>
    private static long? MissingRecord(Dictionary<int, long> records, long lastPrinted)
    {
        for (long v = Math.Max(1, lastPrinted - CountingGuest.RecordSectors + 1); v <= lastPrinted; v++)
        {
            // A later value at that sector is one the guest wrote after printing lastPrinted.
            int sector = (int)(v % CountingGuest.RecordSectors);
            if (!records.TryGetValue(sector, out long at) || (at != v && (at <= lastPrinted || at % CountingGuest.RecordSectors != sector)))
            {
                return v;
            }
        }

        return null;
    }

    private static void Report(TextWriter output, JsonNode? stats, long acknowledged, long printedBefore, long lastPrintedByOld, long epoch, double promotedMs, string resumedLine,
        long first, int resumedCount, long lastPrinted, List<string> problems)
    {
        CheckpointStatsReport? s = stats?.Deserialize<CheckpointStatsReport>();
        if (s is not null)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  checkpoints          {s.Checkpoints} acknowledged in {s.Seconds:F1} s ({s.PerSecond:F1}/s, asked for {1000 / EpochMs}/s)"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  commit latency       p50 {s.CommitUs.P50 / 1000:F1} ms, p99 {s.CommitUs.P99 / 1000:F1} ms (checkpoint start → ack)"));
            if (s.Vm is { Checkpoints: > 0 } vm)
            {
                string Phase(string name) => string.Create(CultureInfo.InvariantCulture, $"{name} {vm.PhasesUs[name].P50 / 1000:F1}");
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  guest pause          p50 {vm.PauseUs.P50 / 1000:F1} ms, p99 {vm.PauseUs.P99 / 1000:F1} ms in QEMU (p50s in ms: {Phase("stop")}, {Phase("ramDiff")}, {Phase("deviceState")} overlapping it, {Phase("resume")}); the node's pause p50 {s.PauseUs.P50 / 1000:F1} ms"));
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  captured             {vm.PagesCopiedMean:F0} of {vm.PagesCompared} RAM pages per checkpoint on average (max {vm.PagesCopiedMax}), {vm.DeviceStateBytes / 1024} KiB of device state; RAM compared at {vm.RamDiffGBps:F1} GB/s"));
            }
        }

        output.WriteLine($"  killed               the dead guest had printed up to {lastPrintedByOld}; checkpoint {acknowledged} was acknowledged after it printed {printedBefore}");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  failover             promoted on checkpoint {epoch} (allowed {acknowledged} or later); `failover` answered in {promotedMs:F0} ms, once the node served; {resumedLine}"));
        output.WriteLine($"  resumed guest        counts on from {first} (allowed {printedBefore}..{lastPrintedByOld + 1}), {resumedCount} values in order so far");
        output.WriteLine($"  promoted disk        {(problems.Any(p => p.Contains("disk", StringComparison.Ordinal)) ? "MISSING RECORDS" : $"holds the record of every value up to {lastPrinted}, each at its sector")}");
        foreach (string problem in problems)
        {
            output.WriteLine($"  problem: {problem}");
        }

        output.WriteLine($"verdict: {(problems.Count == 0 ? "PASS" : "FAIL")}");
    }
}
