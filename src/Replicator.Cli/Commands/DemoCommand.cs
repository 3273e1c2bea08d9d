using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Replicator.Core.Guest;
using Replicator.Hosts.Storage;
using Replicator.Runtime.Control;
using Replicator.Runtime.Links;
using Replicator.Runtime.Storage;

namespace Replicator.Cli.Commands;

/// <summary>
/// <c>replicator demo</c>, the main job on embedded defaults: a secondary and a primary as separate
/// processes over TCP on 127.0.0.1, the synthetic guest writing through the primary, checkpoints
/// at 40 Hz, the primary killed (SIGKILL) at a random moment, failover, and the promoted image and
/// VM state judged against the guest's own record of that checkpoint (I1, I2).
/// </summary>
internal static class DemoCommand
{
    private const long DiskBytes = 16L << 20;
    private const long RamKb = 2048;
    private const int EpochMs = 25;

    public static async Task<int> RunAsync(int seed, TextWriter output)
    {
        string directory = Directory.CreateTempSubdirectory("replicator-demo-").FullName;
        try
        {
            return await RunInAsync(directory, seed, output).ConfigureAwait(false);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<int> RunInAsync(string directory, int seed, TextWriter output)
    {
        var random = new Random(seed);
        string primaryImage = Path.Combine(directory, "primary.img"), secondaryImage = Path.Combine(directory, "secondary.img");
        byte[] initial = new byte[DiskBytes];
        random.NextBytes(initial);
        await File.WriteAllBytesAsync(primaryImage, initial).ConfigureAwait(false);
        await File.WriteAllBytesAsync(secondaryImage, initial).ConfigureAwait(false);
        string secondaryState = Path.Combine(directory, "secondary-state");
        int port = ChildProcess.FreePort();
        int primaryMetrics = ChildProcess.FreePort(), secondaryMetrics = ChildProcess.FreePort();
        string linkKey = Path.Combine(directory, "pair.key");
        LinkKey.Generate(linkKey);

        output.WriteLine($"Replicator demo: seed {seed}; a {DiskBytes >> 20} MiB disk and {RamKb / 1024} MiB of RAM, checkpoints every {EpochMs} ms, in {directory}");
        (Process secondary, Task secondaryReady) = ChildProcess.Start(output, "listening for the primary", null, "secondary", "--image", secondaryImage, "--listen", $"127.0.0.1:{port}", "--state-dir", secondaryState,
            "--pair-id", "demo", "--ram-kb", $"{RamKb}", "--max-request-kb", $"{DemoArguments.MaxRequestBytes / 1024}", "--buffer-mb", "64", "--link-key", linkKey, "--metrics", $"127.0.0.1:{secondaryMetrics}");
        using Process secondaryProcess = secondary;
        await secondaryReady.WaitAsync(TimeSpan.FromMinutes(1)).ConfigureAwait(false);
        (Process primary, Task primaryReady) = ChildProcess.Start(output, "demo-primary running", null, "demo-primary", "--image", primaryImage, "--peer", $"127.0.0.1:{port}", "--state-dir", Path.Combine(directory, "primary-state"),
            "--seed", $"{seed}", "--epoch-ms", $"{EpochMs}", "--ram-kb", $"{RamKb}", "--link-key", linkKey, "--out", directory, "--metrics", $"127.0.0.1:{primaryMetrics}");
        using Process primaryProcess = primary;
        try
        {
            await primaryReady.WaitAsync(TimeSpan.FromMinutes(1)).ConfigureAwait(false);
            int runMs = random.Next(2_000, 4_000);
            output.WriteLine($"  metrics for Prometheus while it runs: http://127.0.0.1:{primaryMetrics}/metrics (primary), http://127.0.0.1:{secondaryMetrics}/metrics (secondary)");
            output.WriteLine($"  running the guest for {runMs} ms, then killing the primary (SIGKILL)");
            await Task.Delay(runMs).ConfigureAwait(false);

            var failover = Stopwatch.StartNew();
            primary.Kill();
            await primary.WaitForExitAsync().ConfigureAwait(false);
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            JsonNode? promoted = await ControlClient.SendAsync(secondaryState, "failover", timeout.Token).ConfigureAwait(false);
            failover.Stop();
            long epoch = promoted!["epoch"]!.GetValue<long>();
            // The node serves at once, reading the committed epochs it took over from RAM while they
            // drain into the image: the verdict reads the files, so it waits for the drain.
            await ControlClient.SendAsync(secondaryState, "drained", timeout.Token).ConfigureAwait(false);

            string scraped = await ScrapeAsync(secondaryMetrics).ConfigureAwait(false);
            return Judge(directory, secondaryImage, secondaryState, epoch, failover.Elapsed, scraped, output);
        }
        finally
        {
            ChildProcess.Stop(primary);
            ChildProcess.Stop(secondary);
        }
    }

    /// <summary>What the promoted node's metrics say of its promotion, scraped as Prometheus would.</summary>
    private static async Task<string> ScrapeAsync(int port)
    {
        try
        {
            using var http = new System.Net.Http.HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            string[] lines = (await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics")).ConfigureAwait(false)).Split('\n');
            string Sample(string name) => lines.FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal) && l.Length > name.Length && l[name.Length] is ' ' or '{')?.Split(' ')[^1] ?? "absent";
            return $"secondary's replicator_failovers_total {Sample("replicator_failovers_total")}, replicator_epoch_committed {Sample("replicator_epoch_committed")}";
        }
        catch (Exception e) when (e is System.Net.Http.HttpRequestException or TaskCanceledException)
        {
            return $"the secondary's metrics could not be scraped ({e.Message})";
        }
    }

    private static int Judge(string directory, string secondaryImage, string secondaryState, long epoch, TimeSpan failoverTime, string scraped, TextWriter output)
    {
        Dictionary<long, string[]> expected = File.ReadAllLines(Path.Combine(directory, "expected.log"))
            .Select(l => l.Split(' ')).Where(p => p.Length == 4).ToDictionary(p => long.Parse(p[0], CultureInfo.InvariantCulture));
        var timings = File.ReadAllLines(Path.Combine(directory, "timings.log")).Select(l => l.Split(' ')).Where(p => p.Length == 3)
            .Select(p => (Epoch: long.Parse(p[0], CultureInfo.InvariantCulture), PauseUs: double.Parse(p[1], CultureInfo.InvariantCulture), CommitUs: double.Parse(p[2], CultureInfo.InvariantCulture)))
            .ToList();
        long lastAcknowledged = timings.Count == 0 ? 0 : timings.Max(t => t.Epoch);
        long lastStarted = expected.Count == 0 ? 0 : expected.Keys.Max();

        var problems = new List<string>();
        if (epoch < lastAcknowledged || epoch > lastStarted)
        {
            problems.Add($"I2: failover landed on epoch {epoch}, outside [{lastAcknowledged}, {lastStarted}]");
        }

        if (!expected.TryGetValue(epoch, out string[]? record))
        {
            problems.Add($"I2: the guest has no record of checkpoint {epoch}");
        }
        else
        {
            string disk = GuestCheckpoint.Hash(File.ReadAllBytes(secondaryImage)).ToString("x16", CultureInfo.InvariantCulture);
            string ram = GuestCheckpoint.Hash(File.ReadAllBytes(Path.Combine(secondaryState, "ram.img"))).ToString("x16", CultureInfo.InvariantCulture);
            // Read as the node reads it, checksum and all: the verdict is about what the node holds.
            // A node that took over keeps the checkpoint's vCPU state in its drain record (the state record is the new primary's).
            var files = new FileStorageDirectory(secondaryState);
            string cpu = Convert.ToHexString(new TakeoverDrainStore(files).Load()?.CpuState ?? new NodeStateStore(files).Load()!.CpuState);
            if (disk != record[1])
            {
                problems.Add($"I1/I2: the promoted image (hash {disk}) is not the guest's disk at checkpoint {epoch} ({record[1]})");
            }

            if (ram != record[2] || cpu != record[3])
            {
                problems.Add($"I1/I2: the promoted VM state is not the guest's at checkpoint {epoch}");
            }
        }

        output.WriteLine($"  epochs committed     {lastAcknowledged} acknowledged to the primary; {lastStarted} checkpoints captured");
        output.WriteLine($"  commit latency       p50 {Percentile(timings.Select(t => t.CommitUs), 0.50) / 1000:F2} ms, p99 {Percentile(timings.Select(t => t.CommitUs), 0.99) / 1000:F2} ms (checkpoint start → ack)");
        output.WriteLine($"  guest pause          p50 {Percentile(timings.Select(t => t.PauseUs), 0.50) / 1000:F2} ms, p99 {Percentile(timings.Select(t => t.PauseUs), 0.99) / 1000:F2} ms per checkpoint (drain + capture)");
        output.WriteLine($"  failover             {failoverTime.TotalMilliseconds:F0} ms from SIGKILL to promoted, on checkpoint {epoch} (allowed {lastAcknowledged}..{lastStarted})");
        output.WriteLine($"  metrics              {scraped}");
        output.WriteLine($"  image and VM state   {(problems.Count == 0 ? "equal the guest's own record of that checkpoint, byte for byte (by hash)" : "DIFFER")}");
        foreach (string problem in problems)
        {
            output.WriteLine($"  problem: {problem}");
        }

        bool pass = problems.Count == 0 && lastAcknowledged > 0;
        output.WriteLine($"verdict: {(pass ? "PASS" : "FAIL")}");
        return pass ? 0 : 1;
    }

    private static double Percentile(IEnumerable<double> values, double p)
    {
        double[] sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
    }
}
