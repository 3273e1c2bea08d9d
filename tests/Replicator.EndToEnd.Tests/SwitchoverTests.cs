using System.Text.Json.Nodes;

namespace Replicator.EndToEnd.Tests;

/// <summary>The pair's roles changed by hand with real daemons: failover, failback, then a planned switchover back.</summary>
public class SwitchoverTests
{
    private const int MiB = 1 << 20;

    [Fact]
    public async Task Failover_then_failback_then_a_switchover_back_leaves_both_images_equal_at_each_step()
    {
        await using DaemonPair pair = await DaemonPair.StartWithPeersAsync();
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x31 0 1M", "flush");
        long first = await pair.CheckpointAsync();

        // Failover.
        pair.Primary!.Kill();
        await pair.Primary.DisposeAsync();
        Assert.Equal(first, await pair.FailoverAsync());
        await Tool.QemuIo(pair.SecondaryUri, "write -P 0x32 1M 1M", "flush");

        // Failback: the old primary follows the promoted node, and both hold the same bytes.
        ReplicatorProcess old = pair.StartPrimaryAsSecondary();
        await pair.Secondary!.WaitForOutputAsync("resync complete: the pair is protected again");
        await AssertVerifiedEqualAsync(pair.SecondaryState);

        // Switchover back: the promoted node hands over at a last checkpoint; the old primary takes
        // over, serves its export and syncs the node it took over from (nothing was written since).
        (int code, string output) = await ReplicatorProcess.RunAsync("switchover", "--state-dir", pair.SecondaryState);
        Assert.True(code == 0, $"switchover failed: {output}\n{pair.Secondary.Output}");
        JsonNode report = JsonNode.Parse(output)!;
        Assert.Equal("TakenOver", report["Outcome"]!.GetValue<string>());
        Assert.Equal("secondary", report["now"]!["role"]!.GetValue<string>());
        await old.WaitForOutputAsync("serving the image over NBD");
        await old.WaitForOutputAsync("resync complete: the pair is protected again");
        Assert.Equal("promoted", (await DaemonPair.StatusAsync(pair.PrimaryState))["role"]!.GetValue<string>());
        Assert.Equal("secondary", (await DaemonPair.StatusAsync(pair.SecondaryState))["role"]!.GetValue<string>());
        await AssertVerifiedEqualAsync(pair.PrimaryState);

        // The guest goes on at the old primary's export; every acknowledged write survives.
        await Tool.QemuIo(pair.PrimaryUri, "read -P 0x31 0 1M", "read -P 0x32 1M 1M", "write -P 0x33 2M 1M", "flush");
        long last = (long)JsonNode.Parse((await ReplicatorProcess.RunAsync("checkpoint", "--state-dir", pair.PrimaryState)).Output)!["acknowledged"]!;
        Assert.True(last > first);
        await AssertVerifiedEqualAsync(pair.PrimaryState);

        await old.TerminateAsync();
        Assert.Equal(0, await old.WaitForExitAsync());
        await pair.Secondary.TerminateAsync();
        Assert.Equal(0, await pair.Secondary.WaitForExitAsync());
        (code, string compare) = await Tool.RunAsync("qemu-img", "compare", "-f", "raw", "-F", "raw", pair.PrimaryImage, pair.SecondaryImage);
        Assert.True(code == 0, $"the images differ after the switchover: {compare}");
        byte[] image = await File.ReadAllBytesAsync(pair.SecondaryImage);
        Assert.All(image.AsSpan(2 * MiB, MiB).ToArray(), b => Assert.Equal(0x33, b));
    }

    [Fact]
    public async Task A_switchover_is_refused_on_a_secondary_and_on_a_primary_that_has_no_listen_address()
    {
        await using DaemonPair pair = await DaemonPair.StartAsync();
        (int code, string output) = await ReplicatorProcess.RunAsync("switchover", "--state-dir", pair.SecondaryState);
        Assert.Equal(1, code);
        Assert.Contains("a switchover is asked of the primary", output, StringComparison.Ordinal);

        (code, output) = await ReplicatorProcess.RunAsync("switchover", "--state-dir", pair.PrimaryState);
        Assert.Equal(1, code);
        Assert.Contains("this node has no --listen", output, StringComparison.Ordinal);
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x41 0 64k");   // still the primary, still serving
        await pair.CheckpointAsync();
    }

    private static async Task AssertVerifiedEqualAsync(string primaryState)
    {
        (int code, string verify) = await ReplicatorProcess.RunAsync("verify", "--state-dir", primaryState);
        Assert.True(code == 0, $"verify: {verify}");
        Assert.Equal(0, JsonNode.Parse(verify)!["BlocksDiverged"]!.GetValue<int>());
    }
}
