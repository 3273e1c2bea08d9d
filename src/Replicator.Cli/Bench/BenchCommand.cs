using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Replicator.Cli.Commands;
using Replicator.Runtime.Links;
using Replicator.Runtime.Storage;
using Spectre.Console;

namespace Replicator.Cli.Bench;

/// <summary>
/// <c>replicator bench</c>: measures the floor (loopback round trip, link bandwidth, fdatasync),
/// then for each configuration of the sweep runs a real pair — a secondary daemon and a
/// <c>bench-primary</c> process over TCP on 127.0.0.1, file-backed images — under the synthetic
/// guest, and the same guest on an unreplicated primary; prints a table, and writes
/// <c>--json</c> and <c>--plot</c>. See docs/performance.md for what each figure means.
/// </summary>
internal static class BenchCommand
{
    private const int QueueDepth = 8;
    private const int BufferMb = 64;

    // The lines a configuration's primaries print: running, warm-up, paced, closed-loop, done; then
    // running, warm-up, closed-loop, done, twice (unreplicated, and unreplicated with a flush per epoch).
    private const int StepsPerConfiguration = 13;

    /// <summary>The floor alone, as one line of JSON: for scripts that measure something else against it in the same run.</summary>
    private static async Task<int> WriteFloorAsync(BenchArguments arguments, TextWriter output)
    {
        string directory = arguments.Directory is { } given ? Directory.CreateDirectory(given).FullName : Directory.CreateTempSubdirectory("replicator-bench-").FullName;
        try
        {
            string keyPath = Path.Combine(directory, "floor.key");
            LinkKey.Generate(keyPath);
            using LinkKey key = LinkKey.Load(keyPath);
            Floor floor = await FloorProbe.MeasureAsync(directory, key, CancellationToken.None).ConfigureAwait(false);
            await output.WriteLineAsync(JsonSerializer.Serialize(floor)).ConfigureAwait(false);
            return 0;
        }
        finally
        {
            if (arguments.Directory is null)
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    public static async Task<int> RunAsync(BenchArguments arguments, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        if (arguments.FloorOnly)
        {
            return await WriteFloorAsync(arguments, output).ConfigureAwait(false);
        }

        IReadOnlyList<BenchConfiguration> sweep = arguments.Quick ? BenchConfiguration.Quick() : BenchConfiguration.Full();
        string directory = arguments.Directory is { } given ? Directory.CreateDirectory(given).FullName : Directory.CreateTempSubdirectory("replicator-bench-").FullName;
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        if (Console.IsOutputRedirected || output != Console.Out)
        {
            // Into a file or a test's pipe the tables are read later: give them room instead of 80 columns.
            console.Profile.Width = 240;
        }

        console.WriteLine($"replicator bench{(arguments.Quick ? " --quick" : "")}: {sweep.Count} configurations, seed {arguments.Seed}, in {directory}");
        console.WriteLine($"  {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}; figures are for this machine as loaded now");

        var childLog = new StringWriter();
        var results = new List<ConfigurationResult>();
        var failures = new List<string>();
        Floor? floor = null;
        try
        {
            await console.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async progress =>
                {
                    ProgressTask task = progress.AddTask("images and floor", maxValue: 2 + (sweep.Count * StepsPerConfiguration));
                    long imageBytes = arguments.Quick ? 64L << 20 : 256L << 20;
                    string linkKey = Path.Combine(directory, "pair.key");
                    string primaryImage = Path.Combine(directory, "primary.img"), secondaryImage = Path.Combine(directory, "secondary.img");
                    CreateImage(primaryImage, imageBytes, arguments.Seed);
                    CreateImage(secondaryImage, imageBytes, arguments.Seed);
                    task.Increment(1);
                    LinkKey.Generate(linkKey);
                    using (LinkKey key = LinkKey.Load(linkKey))
                    {
                        floor = await FloorProbe.MeasureAsync(directory, key, CancellationToken.None).ConfigureAwait(false);
                    }

                    task.Increment(1);

                    for (int i = 0; i < sweep.Count; i++)
                    {
                        BenchConfiguration configuration = sweep[i];
                        string label = $"{i + 1}/{sweep.Count} {configuration.Name}";
                        task.Description = Markup.Escape(label);
                        double before = task.Value;
                        try
                        {
                            var run = new PairRun(configuration, arguments.Quick, arguments.Seed + i, directory, $"c{i + 1}", linkKey, primaryImage, secondaryImage, childLog, phase =>
                            {
                                task.Description = Markup.Escape($"{label}: {phase}");
                                task.Increment(1);
                            });
                            results.Add(ConfigurationResult.From(
                                configuration,
                                floor,
                                await run.ReplicatedAsync().ConfigureAwait(false),
                                await run.UnreplicatedAsync().ConfigureAwait(false),
                                await run.UnreplicatedFlushedAsync().ConfigureAwait(false)));
                        }
                        catch (Exception e) when (e is InvalidOperationException or InvalidDataException or IOException or TimeoutException or JsonException or KeyNotFoundException)
                        {
                            failures.Add($"{configuration.Name}: {e.Message}");
                        }

                        task.Value = before + StepsPerConfiguration;
                    }

                    task.Description = "done";
                }).ConfigureAwait(false);
        }
        finally
        {
            if (arguments.Directory is null)
            {
                Directory.Delete(directory, recursive: true);
            }
        }

        BenchReport.Write(console, floor!, results);
        if (arguments.JsonPath is { } json)
        {
            await File.WriteAllTextAsync(json, JsonSerializer.Serialize(results, PrimaryRunResult.Json)).ConfigureAwait(false);
            console.WriteLine($"wrote {json}");
        }

        if (arguments.PlotPath is { } plot)
        {
            await File.WriteAllTextAsync(plot, BenchReport.Plot(floor!, results)).ConfigureAwait(false);
            console.WriteLine($"wrote {plot}");
        }

        foreach (string failure in failures)
        {
            console.WriteLine($"failed: {failure}");
        }

        if (failures.Count > 0)
        {
            console.WriteLine(childLog.ToString());
        }

        return failures.Count == 0 ? 0 : 1;
    }

    /// <summary>Random contents, allocated and on disk before anything is measured.</summary>
    private static void CreateImage(string path, long bytes, int seed)
    {
        var random = new Random(seed);
        byte[] chunk = new byte[4 << 20];
        using ImageFile image = ImageFile.Create(path, bytes);
        for (long at = 0; at < bytes; at += chunk.Length)
        {
            random.NextBytes(chunk);
            image.Write(at, chunk.AsSpan(0, (int)Math.Min(chunk.Length, bytes - at)));
        }

        image.Flush();
    }

    /// <summary>The processes of one configuration: a secondary and a replicated primary, then an unreplicated primary alone, then one that flushes every epoch.</summary>
    private sealed class PairRun(BenchConfiguration configuration, bool quick, int seed, string directory, string name, string linkKey, string primaryImage, string secondaryImage, TextWriter childLog, Action<string> onPhase)
    {
        private readonly int _maxRequestKb = Math.Max(64, configuration.WriteSize / 1024);
        private readonly BenchTimings _timings = BenchTimings.For(configuration, quick);

        private string[] SecondaryLink => configuration.PlainLink ? ["--insecure-link"] : ["--link-key", linkKey];

        public async Task<PrimaryRunResult> ReplicatedAsync()
        {
            SettleImages();
            int port = ChildProcess.FreePort();
            (Process secondary, Task ready) = ChildProcess.Start(childLog, "listening for the primary", null, [
                "secondary", "--image", secondaryImage, "--listen", $"127.0.0.1:{port}", "--state-dir", Path.Combine(directory, name + "-secondary"),
                "--pair-id", "bench", "--ram-kb", Kb(configuration.RamBytes), "--max-request-kb", Kb(_maxRequestKb * 1024L), "--buffer-mb", $"{BufferMb}", .. SecondaryLink]);
            using Process secondaryProcess = secondary;
            try
            {
                await ready.WaitAsync(TimeSpan.FromMinutes(1)).ConfigureAwait(false);
                string[] link = configuration.PlainLink ? ["--insecure-link", "true"] : ["--link-key", linkKey];
                return await RunPrimaryAsync("replicated", ["--peer", $"127.0.0.1:{port}", .. link]).ConfigureAwait(false);
            }
            finally
            {
                ChildProcess.Stop(secondary);
            }
        }

        public async Task<PrimaryRunResult> UnreplicatedAsync()
        {
            SettleImages();
            return await RunPrimaryAsync("unreplicated").ConfigureAwait(false);
        }

        /// <summary>The unreplicated primary with the replicated run's durability: its image flushed every epoch.</summary>
        public async Task<PrimaryRunResult> UnreplicatedFlushedAsync()
        {
            SettleImages();
            return await RunPrimaryAsync("unreplicated-flushed").ConfigureAwait(false);
        }

        private async Task<PrimaryRunResult> RunPrimaryAsync(string mode, params string[] extra)
        {
            string result = Path.Combine(directory, $"{name}-{mode}.json");
            string[] common =
            [
                "bench-primary", "--mode", mode, "--image", primaryImage, "--state-dir", Path.Combine(directory, $"{name}-{mode}-primary"),
                "--epoch-ms", I(configuration.EpochMs), "--ram-kb", Kb(configuration.RamBytes), "--max-request-kb", I(_maxRequestKb),
                "--write-size", I(configuration.WriteSize), "--rate", I(configuration.BytesPerSecond),
                "--pages-per-write", configuration.PagesPerWrite.ToString("R", CultureInfo.InvariantCulture),
                "--queue-depth", I(QueueDepth), "--warmup-ms", I(_timings.WarmUpMs), "--paced-ms", I(_timings.PacedMs), "--closed-ms", I(_timings.ClosedMs),
                "--seed", I(seed), "--out", result,
            ];
            (Process primary, Task ready) = ChildProcess.Start(childLog, "bench-primary running", OnLine, [.. common, .. extra]);
            using Process primaryProcess = primary;
            try
            {
                await ready.WaitAsync(TimeSpan.FromMinutes(1)).ConfigureAwait(false);
                await primary.WaitForExitAsync().WaitAsync(TimeSpan.FromMilliseconds(_timings.TotalMs + 120_000)).ConfigureAwait(false);
                if (primary.ExitCode != 0)
                {
                    throw new InvalidOperationException($"bench-primary ({mode}) exited with {primary.ExitCode}");
                }

                return JsonSerializer.Deserialize<PrimaryRunResult>(await File.ReadAllTextAsync(result).ConfigureAwait(false), PrimaryRunResult.Json)
                    ?? throw new InvalidDataException($"bench-primary ({mode}) wrote no result");
            }
            finally
            {
                ChildProcess.Stop(primary);
            }
        }

        private void OnLine(string line)
        {
            if (line.StartsWith("bench-primary phase ", StringComparison.Ordinal) || line.StartsWith("bench-primary done", StringComparison.Ordinal) || line.StartsWith("bench-primary running", StringComparison.Ordinal))
            {
                onPhase(line["bench-primary ".Length..]);
            }
        }

        /// <summary>Writes of the previous run reach the disk before this one starts, so no run pays for another's write-back.</summary>
        private void SettleImages()
        {
            foreach (string path in new[] { primaryImage, secondaryImage })
            {
                using ImageFile image = ImageFile.Open(path);
                image.Flush();
            }
        }

        private static string I(long value) => value.ToString(CultureInfo.InvariantCulture);

        private static string Kb(long bytes) => I(bytes / 1024);
    }
}
