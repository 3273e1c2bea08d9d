using System.Text.Json;

namespace Replicator.EndToEnd.Tests.Vm;

public class VmBenchTests
{
    [VmFact]
    public async Task The_quick_vm_bench_measures_the_real_guest_s_checkpoints_and_the_memory_floor()
    {
        string json = Path.Combine(Directory.CreateTempSubdirectory("replicator-bench-vm-test-").FullName, "bench-vm.json");
        try
        {
            (int code, string output) = await ReplicatorProcess.RunAsync("bench", "--vm", "--quick", "--json", json);

            Assert.True(code == 0, output);
            Assert.Contains("QEMU pause p50 (p99) ms", output, StringComparison.Ordinal);
            using JsonDocument document = JsonDocument.Parse(await File.ReadAllTextAsync(json));
            Assert.True(document.RootElement.GetProperty("floor").GetProperty("compareGBps").GetDouble() > 0, output);
            JsonElement run = Assert.Single(document.RootElement.GetProperty("runs").EnumerateArray());
            Assert.Equal(25, run.GetProperty("intervalMs").GetInt32());
            JsonElement stats = run.GetProperty("stats");
            long checkpoints = stats.GetProperty("checkpoints").GetInt64();
            Assert.True(checkpoints > 0 && stats.GetProperty("perSecond").GetDouble() > 0, output);
            Assert.Equal(checkpoints, stats.GetProperty("commitUs").GetProperty("count").GetInt64());

            // Every checkpoint of the running guest paused QEMU. A pause is counted when the guest
            // resumes, an acknowledgement later: the two counts differ by the checkpoints in flight
            // at the reset and at the reading, a handful at most.
            JsonElement vm = stats.GetProperty("vm");
            long pauses = vm.GetProperty("pauseUs").GetProperty("count").GetInt64();
            Assert.True(pauses > 0 && Math.Abs(pauses - checkpoints) <= 10, $"{pauses} pauses, {checkpoints} checkpoints acknowledged");
            foreach (string phase in (string[])["stop", "ramDiff", "deviceState", "resume"])
            {
                Assert.True(vm.GetProperty("phasesUs").GetProperty(phase).GetProperty("p50").GetDouble() > 0, $"{phase}: {vm}");
            }

            // The pages crossed the link encoded (zero runs, the default): fewer bytes than captured.
            long pageBytes = stats.GetProperty("pageBytes").GetInt64();
            long pageWireBytes = stats.GetProperty("pageWireBytes").GetInt64();
            Assert.True(pageBytes > 0 && pageWireBytes > 0 && pageWireBytes < pageBytes, $"{pageWireBytes} bytes on the link for {pageBytes} of pages");
            Assert.Contains("pages on the link at 40/s", output, StringComparison.Ordinal);

            Assert.Equal(32768, vm.GetProperty("pagesCompared").GetInt64());
            Assert.True(vm.GetProperty("deviceStateBytes").GetInt64() > 0 && vm.GetProperty("ramDiffGBps").GetDouble() > 0, vm.ToString());
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(json)!, recursive: true);
        }
    }

    [Fact]
    public async Task The_vm_bench_refuses_the_synthetic_bench_s_options()
    {
        (int code, string output) = await ReplicatorProcess.RunAsync("bench", "--vm", "--plot", "x.svg");

        Assert.NotEqual(0, code);
        Assert.Contains("bench --vm takes only --quick and --json", output, StringComparison.Ordinal);
    }
}
