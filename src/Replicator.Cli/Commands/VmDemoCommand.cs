using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Replicator.Cli.Diagnostics;
using Replicator.Qemu.Guests;
using Replicator.Runtime.Control;
using Replicator.Runtime.Links;

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
internal static partial class VmDemoCommand
{
    private const long DiskBytes = 16L << 20;
    private const int EpochMs = 50;

    // Bounds of the waits, never targets: a guest under TCG on a loaded host is slow.
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(3);

    public static async Task<int> RunAsync(int seed, TextWriter output)
    {
        if (RuntimeInformation.OSArchitecture != Architecture.X64 || CountingGuest.QemuBinary is null)
        {
            output.WriteLine("replicator demo --vm: needs qemu-system-x86_64 on an x86-64 host (scripts/install-test-deps.sh installs qemu-system-x86, linux-image-cloud-amd64 and busybox-static)");
            return 1;
        }

        CountingGuestFiles guest;
        try
        {
            guest = CountingGuestBuilder.Build(CountingGuestBuilder.DefaultDirectory);
        }
        catch (CountingGuestBuildException e)
        {
            output.WriteLine($"replicator demo --vm: the guest cannot be built: {e.Message}");
            return 1;
        }

        string directory = Directory.CreateTempSubdirectory("replicator-demo-vm-").FullName;
        string[] ramFiles = [$"/dev/shm/replicator-demo-primary-{Path.GetFileName(directory)}.ram", $"/dev/shm/replicator-demo-secondary-{Path.GetFileName(directory)}.ram"];
        try
        {
            return await RunInAsync(directory, guest, ramFiles, seed, output).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException or OperationCanceledException)
        {
            // A daemon that stopped, a control command refused, a bound passed: the story did not end as it must.
            output.WriteLine($"  problem: {e.Message}");
            output.WriteLine("verdict: FAIL");
            return 1;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
            foreach (string ram in ramFiles)
            {
                File.Delete(ram);
            }
        }
    }

    private static async Task<int> RunInAsync(string directory, CountingGuestFiles guest, string[] ramFiles, int seed, TextWriter output)
    {
        var random = new Random(seed);
        string primaryImage = Path.Combine(directory, "primary.img"), secondaryImage = Path.Combine(directory, "secondary.img");
        string primaryState = Path.Combine(directory, "primary-state"), secondaryState = Path.Combine(directory, "secondary-state");
        await File.WriteAllBytesAsync(primaryImage, new byte[DiskBytes]).ConfigureAwait(false);
        await File.WriteAllBytesAsync(secondaryImage, new byte[DiskBytes]).ConfigureAwait(false);
        string linkKey = Path.Combine(directory, "pair.key");
        LinkKey.Generate(linkKey);
        string primaryVm = Path.Combine(directory, "primary-vm.json"), secondaryVm = Path.Combine(directory, "secondary-vm.json");
        await File.WriteAllTextAsync(primaryVm, CountingGuest.Config(guest, directory, "primary", ramFiles[0])).ConfigureAwait(false);
        await File.WriteAllTextAsync(secondaryVm, CountingGuest.Config(guest, directory, "secondary", ramFiles[1])).ConfigureAwait(false);
        int port = ChildProcess.FreePort();

        // A whole-RAM checkpoint (the first) is one 128 MiB frame: the link's silence bounds leave room for it.
        string[] common = ["--link-key", linkKey, "--ram-kb", $"{CountingGuest.MemoryMiB * 1024}", "--heartbeat-timeout-ms", "10000", "--ack-timeout-ms", "10000", "--vm", "qemu"];
        output.WriteLine($"Replicator demo --vm: seed {seed}; a QEMU guest ({CountingGuest.MemoryMiB} MiB of RAM, TCG) counting on a {DiskBytes >> 20} MiB disk, checkpoints every {EpochMs} ms, in {directory}");
        var resumed = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        (Process secondary, Task secondaryReady) = ChildProcess.Start(output, "listening for the primary", line =>
            {
                if (ResumedLine().Match(line) is { Success: true } m)
                {
                    resumed.TrySetResult(m.Value);
                }
            },
            ["secondary", "--image", secondaryImage, "--listen", $"127.0.0.1:{port}", "--state-dir", secondaryState, "--nbd", $"unix:{Path.Combine(directory, "secondary-nbd.sock")}", .. common, "--vm-config", secondaryVm]);
        using Process secondaryProcess = secondary;
        Process? primary = null;
        try
        {
            await secondaryReady.WaitAsync(Bound).ConfigureAwait(false);
            (primary, Task qemuStarted) = ChildProcess.Start(output, "QEMU started", null,
                ["primary", "--image", primaryImage, "--peer", $"127.0.0.1:{port}", "--state-dir", primaryState, "--nbd", $"unix:{Path.Combine(directory, "primary-nbd.sock")}",
                 "--skip-initial-sync", "--epoch-ms", $"{EpochMs}", .. common, "--vm-config", primaryVm]);
            await qemuStarted.WaitAsync(Bound).ConfigureAwait(false);
            output.WriteLine("  QEMU boots the guest on the primary's export (TCG: a few seconds)");

            using var bound = new CancellationTokenSource(Bound);
            string oldConsole = Path.Combine(primaryState, "vm-console.log");
            Task primaryExited = primary.WaitForExitAsync(CancellationToken.None);
            IReadOnlyList<long> counted = await CountingGuestConsoleWatch.WaitAsync(oldConsole, c => c.Count >= 10, primaryExited, bound.Token).ConfigureAwait(false);

            // Measured from here, once the first checkpoint of the running guest (all its RAM, one
            // 128 MiB frame) and those queued behind it are acknowledged: the pair in its steady state.
            await ControlClient.SendAsync(primaryState, "checkpoint", bound.Token).ConfigureAwait(false);
            await ControlClient.SendAsync(primaryState, "checkpoint-stats --reset", bound.Token).ConfigureAwait(false);
            int runMs = random.Next(3_000, 6_000);
            output.WriteLine($"  the guest counts (counter {counted[^1]}); running it for {runMs} ms, then killing the primary daemon and its QEMU (SIGKILL)");
            await Task.Delay(runMs).ConfigureAwait(false);

            // The value printed before a checkpoint began: every checkpoint acknowledged after it holds it or more.
            long printedBefore = CountingGuest.Counters(oldConsole)[^1];
            long acknowledged = (await ControlClient.SendAsync(primaryState, "checkpoint", bound.Token).ConfigureAwait(false))!["acknowledged"]!.GetValue<long>();
            JsonNode? stats = await ControlClient.SendAsync(primaryState, "checkpoint-stats", bound.Token).ConfigureAwait(false);
            await Task.Delay(random.Next(0, EpochMs)).ConfigureAwait(false);

            // The daemon and its QEMU (its child) die at once.
            ChildProcess.Stop(primary);
            long lastPrintedByOld = CountingGuest.Counters(oldConsole)[^1];

            var failover = Stopwatch.StartNew();
            long epoch = (await ControlClient.SendAsync(secondaryState, "failover", bound.Token).ConfigureAwait(false))!["epoch"]!.GetValue<long>();
            double promotedMs = failover.Elapsed.TotalMilliseconds;
            string resumedLine = await resumed.Task.WaitAsync(bound.Token).ConfigureAwait(false);

            string newConsole = Path.Combine(secondaryState, "vm-console.log");
            IReadOnlyList<long> values = await CountingGuestConsoleWatch.WaitAsync(newConsole, c => c.Count >= 20, secondary.WaitForExitAsync(CancellationToken.None), bound.Token).ConfigureAwait(false);

            // The image file alone holds what the node took over once the drain is over; the guest's
            // writes since are in it too (each written before its value is printed).
            await ControlClient.SendAsync(secondaryState, "drained", bound.Token).ConfigureAwait(false);
            long lastPrinted = CountingGuest.Counters(newConsole)[^1];
            Dictionary<int, long> records = CountingGuest.Records(await File.ReadAllBytesAsync(secondaryImage).ConfigureAwait(false));

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
        finally
        {
            if (primary is not null)
            {
                ChildProcess.Stop(primary);
                primary.Dispose();
            }

            ChildProcess.Stop(secondary);
        }
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

    [GeneratedRegex(@"the guest runs again from checkpoint \d+, \d+ ms after the promotion[^\n]*")]
    private static partial Regex ResumedLine();
}
