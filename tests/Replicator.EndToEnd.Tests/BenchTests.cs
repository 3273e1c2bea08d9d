using System.Text.Json;

namespace Replicator.EndToEnd.Tests;

/// <summary>
/// <c>replicator bench --quick</c> as a real process: a smoke test of the benchmark's machinery
/// (pair of processes, unreplicated primary, floor probe, JSON and plot). Structure only: the
/// figures themselves are the benchmark's business, never a test's.
/// </summary>
public class BenchTests
{
    private static readonly string[] Positive =
    [
        "commitUs.p50", "commitUs.p90", "commitUs.p99", "commitUs.p999", "commitUs.max",
        "pauseUs.p50", "pauseUs.p99", "pauseUs.max", "floorUs", "replicatedMBps", "unreplicatedMBps", "unreplicatedFlushedMBps", "flushedThroughputRatio", "allocBytesPerWrite",
        "checkpoints", "wireBytesPerEpoch", "floor.rttUs", "floor.bandwidthMBps", "floor.fdatasyncUs",
    ];

    [Fact]
    public async Task The_quick_bench_measures_every_configuration_and_writes_json_and_a_plot()
    {
        string directory = Directory.CreateTempSubdirectory("replicator-bench-test-").FullName;
        try
        {
            string json = Path.Combine(directory, "bench.json"), plot = Path.Combine(directory, "bench.svg");
            (int code, string output) = await ReplicatorProcess.RunAsync("bench", "--quick", "--json", json, "--plot", plot, "--seed", "7");

            Assert.True(code == 0, output);
            Assert.Contains("floor: loopback round trip", output, StringComparison.Ordinal);
            using JsonDocument document = JsonDocument.Parse(await File.ReadAllTextAsync(json));
            JsonElement[] configurations = document.RootElement.EnumerateArray().ToArray();
            Assert.Equal(
                ["10/1048576/4194304/65536", "25/65536/262144/4096", "100/16777216/1048576/1048576"],
                configurations.Select(c => $"{c.GetProperty("epochMs")}/{c.GetProperty("dirtyDiskBytes")}/{c.GetProperty("dirtyRamBytes")}/{c.GetProperty("writeSize")}"));
            foreach (JsonElement configuration in configurations)
            {
                foreach (string path in Positive)
                {
                    double value = path.Split('.').Aggregate(configuration, (e, name) => e.GetProperty(name)).GetDouble();
                    Assert.True(double.IsFinite(value) && value > 0, $"{path} is {value} in {configuration}");
                }

                foreach (JsonProperty phase in configuration.GetProperty("phasesUs").EnumerateObject())
                {
                    Assert.True(phase.Value.GetProperty("p99").GetDouble() >= phase.Value.GetProperty("p50").GetDouble(), $"phase {phase.Name}: p99 below p50");
                }
            }

            string svg = await File.ReadAllTextAsync(plot);
            Assert.StartsWith("<svg", svg, StringComparison.Ordinal);
            Assert.Contains("floor", svg, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
