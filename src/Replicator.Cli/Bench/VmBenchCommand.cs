using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Replicator.Cli.Commands;
using Replicator.Cli.Diagnostics;
using Replicator.Qemu.Guests;
using Replicator.Runtime.Control;
using Spectre.Console;

namespace Replicator.Cli.Bench;

/// <summary>
/// <c>replicator bench --vm</c>: the pair protecting the counting guest under QEMU
/// (<see cref="VmPairRun"/>), once per checkpoint rate asked for, each measured in its steady state
/// through <c>checkpoint-stats</c>: the checkpoints achieved per second, commit latency, the node's
/// pause and QEMU's part of it (stop, RAM diff, device state, resume), and the RAM diff's
/// throughput against this machine's memory bandwidth, measured in the same run.
/// </summary>
internal static class VmBenchCommand
{
    /// <summary>Checkpoint intervals asked for, in ms: 20 Hz, Remus's 40 Hz, then 100 Hz.</summary>
    private static readonly int[] FullIntervals = [50, 25, 10];

    private static readonly int[] QuickIntervals = [25];

    public static async Task<int> RunAsync(bool quick, string? jsonPath, TextWriter output)
    {
        if (CountingGuest.CannotRun is { } why)
        {
            output.WriteLine($"replicator bench --vm: {why}");
            return 1;
        }

        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        console.Profile.Width = 240;
        int[] intervals = quick ? QuickIntervals : FullIntervals;
        TimeSpan measured = TimeSpan.FromSeconds(quick ? 4 : 10);
        console.WriteLine($"replicator bench --vm{(quick ? " --quick" : "")}: the counting guest ({CountingGuest.MemoryMiB} MiB, TCG), {measured.TotalSeconds:F0} s per rate at {string.Join(", ", intervals.Select(i => $"{1000 / i} Hz"))}");
        console.WriteLine($"  {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}; figures are for this machine as loaded now");

        MemoryFloor floor = MemoryFloor.Measure(CountingGuest.MemoryMiB << 20);
        console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  memory: comparing two {CountingGuest.MemoryMiB} MiB arrays {floor.CompareGBps:F1} GB/s of one array's bytes, copying {floor.CopyGBps:F1} GB/s (best of {MemoryFloor.Rounds}, one thread)"));

        var runs = new List<VmBenchRun>();
        var failures = new List<string>();
        foreach (int interval in intervals)
        {
            try
            {
                runs.Add(await MeasureAsync(interval, measured, TextWriter.Null).ConfigureAwait(false));
            }
            catch (CountingGuestBuildException e)
            {
                output.WriteLine($"replicator bench --vm: the guest cannot be built: {e.Message}");
                return 1;
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException or OperationCanceledException or JsonException)
            {
                failures.Add($"{1000 / interval} Hz: {e.Message}");
            }
        }

        Write(console, floor, runs);
        if (jsonPath is not null)
        {
            await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(new { floor, runs }, PrimaryRunResult.Json)).ConfigureAwait(false);
            console.WriteLine($"wrote {jsonPath}");
        }

        foreach (string failure in failures)
        {
            console.WriteLine($"failed: {failure}");
        }

        return failures.Count == 0 && runs.All(r => r.Stats.Checkpoints > 0) ? 0 : 1;
    }

    private static async Task<VmBenchRun> MeasureAsync(int intervalMs, TimeSpan measured, TextWriter daemonWarnings)
    {
        await using VmPairRun pair = await VmPairRun.StartAsync(daemonWarnings, intervalMs, "bench-vm").ConfigureAwait(false);
        using var bound = new CancellationTokenSource(VmPairRun.Bound);
        await ControlClient.SendAsync(pair.PrimaryState, "checkpoint-stats --reset", bound.Token).ConfigureAwait(false);

        // A bounded run: the guest counts while the pair checkpoints it at the rate asked for.
        await Task.Delay(measured).ConfigureAwait(false);
        JsonNode? answer = await ControlClient.SendAsync(pair.PrimaryState, "checkpoint-stats", bound.Token).ConfigureAwait(false);
        CheckpointStatsReport stats = answer?.Deserialize<CheckpointStatsReport>() ?? throw new InvalidOperationException("the primary answered checkpoint-stats with nothing");
        return new VmBenchRun(intervalMs, 1000.0 / intervalMs, stats);
    }

    private static void Write(IAnsiConsole console, MemoryFloor floor, List<VmBenchRun> runs)
    {
        var table = new Table().Border(TableBorder.Simple);
        foreach (string column in (string[])["asked", "achieved", "commit p50 (p99) ms", "node pause p50 (p99) ms", "QEMU pause p50 (p99) ms", "stop", "RAM diff", "device state", "resume", "pages copied", "device state KiB", "RAM diff GB/s", "of compare floor"])
        {
            table.AddColumn(column);
        }

        static string Ms(LatencySummary s) => string.Create(CultureInfo.InvariantCulture, $"{s.P50 / 1000:F1} ({s.P99 / 1000:F1})");
        foreach (VmBenchRun run in runs)
        {
            CheckpointStatsReport s = run.Stats;
            VmCheckpointSummary? vm = s.Vm;
            string Phase(string name) => vm is null ? "-" : Ms(vm.PhasesUs[name]);
            table.AddRow(
                $"{run.AskedPerSecond:F0}/s",
                string.Create(CultureInfo.InvariantCulture, $"{s.PerSecond:F1}/s"),
                Ms(s.CommitUs),
                Ms(s.PauseUs),
                vm is null ? "-" : Ms(vm.PauseUs),
                Phase("stop"),
                Phase("ramDiff"),
                Phase("deviceState"),
                Phase("resume"),
                vm is null ? "-" : string.Create(CultureInfo.InvariantCulture, $"{vm.PagesCopiedMean:F0} of {vm.PagesCompared} (max {vm.PagesCopiedMax})"),
                vm is null ? "-" : $"{vm.DeviceStateBytes / 1024}",
                vm is null ? "-" : string.Create(CultureInfo.InvariantCulture, $"{vm.RamDiffGBps:F1}"),
                vm is null || floor.CompareGBps <= 0 ? "-" : string.Create(CultureInfo.InvariantCulture, $"{vm.RamDiffGBps / floor.CompareGBps:F2}×"));
        }

        console.Write(table);
        foreach (VmBenchRun run in runs.Where(r => r.Stats.PageBytes > 0))
        {
            CheckpointStatsReport s = run.Stats;
            console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  pages on the link at {run.AskedPerSecond:F0}/s: {s.PageWireBytes / 1048576.0:F2} MiB for {s.PageBytes / 1048576.0:F2} MiB of pages captured ({(double)s.PageWireBytes / s.PageBytes:P1}; --page-encoding)"));
        }

        console.WriteLine("  QEMU's pause: stop + capture (the RAM diff and the device state overlap) + resume; the node's pause: checkpoint start to the guest resumed, from the node's loop.");
    }
}

/// <summary>One rate of <c>bench --vm</c>: the interval asked for and what the primary's checkpoints did.</summary>
internal sealed record VmBenchRun(int IntervalMs, double AskedPerSecond, CheckpointStatsReport Stats);

/// <summary>
/// This machine's memory bandwidth, the RAM diff's floor: comparing two arrays the size of the
/// guest's RAM (what the diff does, over its shadow) and copying one, one thread, best of a few.
/// </summary>
internal sealed record MemoryFloor(double CompareGBps, double CopyGBps)
{
    public const int Rounds = 5;

    public static MemoryFloor Measure(int bytes)
    {
        byte[] a = GC.AllocateUninitializedArray<byte>(bytes), b = GC.AllocateUninitializedArray<byte>(bytes);
        Random.Shared.NextBytes(a);
        a.CopyTo(b, 0);
        double compare = 0, copy = 0;
        for (int i = 0; i < Rounds; i++)
        {
            long started = Stopwatch.GetTimestamp();
            if (!a.AsSpan().SequenceEqual(b))
            {
                throw new InvalidOperationException("copies differ");
            }

            compare = Math.Max(compare, bytes / Stopwatch.GetElapsedTime(started).TotalSeconds / 1e9);
            started = Stopwatch.GetTimestamp();
            a.AsSpan().CopyTo(b);
            copy = Math.Max(copy, bytes / Stopwatch.GetElapsedTime(started).TotalSeconds / 1e9);
        }

        return new MemoryFloor(Math.Round(compare, 1), Math.Round(copy, 1));
    }
}
