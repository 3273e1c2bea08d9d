using System.Globalization;
using Replicator.Cli.Diagnostics;
using Spectre.Console;

namespace Replicator.Cli.Bench;

/// <summary>The bench's tables (floor, latency and throughput, commit phases) and its plot.</summary>
internal static class BenchReport
{
    private static readonly string[] Colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];
    private static readonly string[] ConfigurationColumns = ["epoch", "dirty disk", "dirty RAM", "write"];

    public static void Write(IAnsiConsole console, Floor floor, IReadOnlyList<ConfigurationResult> results)
    {
        ArgumentNullException.ThrowIfNull(console);
        if (floor is null)
        {
            return;
        }

        console.WriteLine(F($"floor: loopback round trip {floor.RttUs:F1} µs (p99 {floor.RttP99Us:F1}), loopback TCP {floor.BandwidthMBps:F0} MB/s (framed: {floor.FramedBandwidthMBps:F0} MB/s), fdatasync of an overwrite {floor.FdatasyncUs:F1} µs (p99 {floor.FdatasyncP99Us:F1}); for reference a 1 MiB append + sync takes {floor.AppendSync1MiBUs:F0} µs"));
        console.WriteLine(F($"link with TLS 1.3 and the pair key (as the pair runs): round trip {floor.TlsRttUs:F1} µs ({floor.TlsRttUs / floor.RttUs:F2}× plain), framed {floor.TlsFramedBandwidthMBps:F0} MB/s ({floor.TlsFramedBandwidthMBps / floor.FramedBandwidthMBps:F2}× plain)"));

        var main = new Table().Border(TableBorder.Rounded).Title("epoch commit, pause and throughput (latencies in µs; throughput in MB/s)");
        foreach (string column in new[] { "epoch", "dirty disk", "dirty RAM", "write", "ckpt/s", "commit p50", "p90", "p99", "p99.9", "max", "floor", "p99/floor", "pause p50", "p99", "max", "repl MB/s", "unrepl MB/s", "ratio", "unrepl+flush MB/s", "ratio", "alloc B/write", "RAM copied B/write" })
        {
            main.AddColumn(new TableColumn(column).RightAligned());
        }

        foreach (ConfigurationResult r in results)
        {
            main.AddRow(
                Epoch(r), BenchConfiguration.Size(r.DirtyDiskBytes), BenchConfiguration.Size(r.DirtyRamBytes), BenchConfiguration.Size(r.WriteSize),
                F($"{r.CheckpointsPerSecond:F0}"),
                F($"{r.CommitUs.P50:F0}"), F($"{r.CommitUs.P90:F0}"), F($"{r.CommitUs.P99:F0}"), F($"{r.CommitUs.P999:F0}"), F($"{r.CommitUs.Max:F0}"),
                F($"{r.FloorUs:F0}"), F($"{r.CommitP99ToFloor:F2}×"),
                F($"{r.PauseUs.P50:F0}"), F($"{r.PauseUs.P99:F0}"), F($"{r.PauseUs.Max:F0}"),
                F($"{r.ReplicatedMBps:F0}"), F($"{r.UnreplicatedMBps:F0}"), F($"{r.ThroughputRatio:F2}"),
                F($"{r.UnreplicatedFlushedMBps:F0}"), F($"{r.FlushedThroughputRatio:F2}"), F($"{r.AllocBytesPerWrite:F0}"), F($"{r.RamCopyBytesPerWrite:F0}"));
        }

        console.Write(main);

        var phases = new Table().Border(TableBorder.Rounded).Title("commit phases, p50 (p99) in µs; apply is after the ack; achieved load per epoch");
        foreach (string column in ConfigurationColumns.Concat(CheckpointRecorder.PhaseNames).Concat(["link/floor", "flush/floor", "disk/epoch", "RAM/epoch", "wire/epoch", "buffer peak", "repl +B/write"]))
        {
            phases.AddColumn(new TableColumn(column).RightAligned());
        }

        foreach (ConfigurationResult r in results)
        {
            phases.AddRow(
                new[] { Epoch(r), BenchConfiguration.Size(r.DirtyDiskBytes), BenchConfiguration.Size(r.DirtyRamBytes), BenchConfiguration.Size(r.WriteSize) }
                .Concat(CheckpointRecorder.PhaseNames.Select(p => r.PhasesUs.TryGetValue(p, out PhasePercentiles? v) ? F($"{v.P50:F0} ({v.P99:F0})") : "-"))
                .Concat([F($"{r.LinkP50ToFloor:F2}×"), F($"{r.FlushP50ToFloor:F2}×"), Bytes(r.AchievedDirtyDiskBytes), Bytes(r.AchievedDirtyRamBytes), Bytes(r.WireBytesPerEpoch), Bytes(r.BufferPeakBytes), F($"{r.ReplicationAllocBytesPerWrite:F0}")])
                .ToArray());
        }

        console.Write(phases);
    }

    /// <summary>
    /// Commit latency (p50 solid, p99 dashed) against the data each epoch actually shipped (its
    /// dirty disk data and dirty RAM as they went over the link: achieved, not asked for), one
    /// colour per epoch interval, for the configurations of the main grid; and the floor for that
    /// much data.
    /// </summary>
    public static string Plot(Floor floor, IReadOnlyList<ConfigurationResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var plot = new SvgPlot("Epoch-commit latency against dirty data per epoch", "data shipped per epoch (dirty disk + dirty RAM, as achieved)", "commit latency (ms)");
        var main = results.Where(r => r.DirtyRamBytes == 1 << 20 && r.WriteSize == 64 << 10 && !r.PlainLink).ToList();
        if (main.Count == 0)
        {
            main = results.ToList();
        }

        int color = 0;
        foreach (IGrouping<int, ConfigurationResult> epoch in main.GroupBy(r => r.EpochMs).OrderBy(g => g.Key))
        {
            string c = Colors[color++ % Colors.Length];
            plot.Add(F($"{epoch.Key} ms p50"), c, dashed: false, epoch.Select(r => (r.WireBytesPerEpoch, r.CommitUs.P50 / 1000)));
            plot.Add(F($"{epoch.Key} ms p99"), c, dashed: true, epoch.Select(r => (r.WireBytesPerEpoch, r.CommitUs.P99 / 1000)));
        }

        if (floor is not null && main.Count > 0)
        {
            double low = main.Min(r => r.WireBytesPerEpoch) / 2.0, high = main.Max(r => r.WireBytesPerEpoch) * 2.0;
            var points = new List<(double, double)>();
            for (double x = low; x <= high * 1.001; x *= 1.25)
            {
                points.Add((x, floor.FloorUs(x) / 1000));
            }

            plot.Add("floor", "#000000", dashed: false, points, markers: false);
        }

        return plot.Render();
    }

    /// <summary>The epoch column, marking the twin that ran its link plain.</summary>
    private static string Epoch(ConfigurationResult r) => F($"{r.EpochMs} ms{(r.PlainLink ? " plain link" : "")}");

    private static string Bytes(double bytes) => bytes switch
    {
        >= 1 << 20 => F($"{bytes / (1 << 20):F2} MiB"),
        >= 1 << 10 => F($"{bytes / (1 << 10):F0} KiB"),
        _ => F($"{bytes:F0} B"),
    };

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
