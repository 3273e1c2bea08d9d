namespace Replicator.EndToEnd.Tests;

/// <summary>
/// The pair heals itself: the primary reconnects to a secondary that comes back and resyncs it while
/// clients keep writing — and never into one that was promoted meanwhile (I6).
/// </summary>
public class ReconnectTests
{
    [Fact]
    public async Task A_link_cut_mid_epoch_heals_by_a_resync_and_failover_then_serves_exactly_the_last_checkpoint()
    {
        await using DaemonPair pair = await DaemonPair.StartAsync(withProxy: true);
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x61 0 2M", "flush");
        await pair.CheckpointAsync();

        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x62 0 1M");          // mid-epoch when the cable goes
        pair.Proxy!.Cut();
        await pair.WaitUntilDegradedAsync();
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x63 4M 1M", "write -P 0x64 12M 64k", "flush");   // degraded: local only

        pair.Proxy.Heal();
        await pair.Primary!.WaitForOutputAsync("the pair is protected again");
        System.Text.Json.Nodes.JsonNode status = (await DaemonPair.StatusAsync(pair.PrimaryState))["status"]!;
        Assert.Equal("Protected", status["Replication"]!.GetValue<string>());
        Assert.Null(status["Degraded"]);
        Assert.Contains("resync complete", pair.Secondary!.Output, StringComparison.Ordinal);

        long epoch = await pair.CheckpointAsync();
        byte[] atCheckpoint = await File.ReadAllBytesAsync(pair.PrimaryImage);
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x65 0 1M");          // after the checkpoint: must not survive
        pair.Primary.Kill();

        Assert.Equal(epoch, await pair.FailoverAsync());
        await Tool.QemuIo(pair.SecondaryUri, "read -P 0x62 0 1M", "read -P 0x61 1M 1M", "read -P 0x63 4M 1M", "read -P 0x64 12M 64k");
        byte[] served = await pair.ReadThroughNbdAsync(pair.SecondaryUri);
        Assert.True(atCheckpoint.AsSpan().SequenceEqual(served), "the promoted node serves an image that differs from the primary's at the last checkpoint");
    }

    [Fact]
    public async Task A_secondary_killed_and_restarted_is_resynced_and_the_pair_is_protected_again()
    {
        await using DaemonPair pair = await DaemonPair.StartAsync();
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x51 0 2M", "flush");
        await pair.CheckpointAsync();
        pair.Secondary!.Kill();
        await pair.WaitUntilDegradedAsync();
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x52 2M 2M", "write -P 0x53 9M 512k", "flush");

        await pair.Secondary.DisposeAsync();
        pair.StartSecondary();
        await pair.Primary!.WaitForOutputAsync("the pair is protected again");

        long epoch = await pair.CheckpointAsync();
        byte[] atCheckpoint = await File.ReadAllBytesAsync(pair.PrimaryImage);
        pair.Primary.Kill();
        Assert.Equal(epoch, await pair.FailoverAsync());
        byte[] served = await pair.ReadThroughNbdAsync(pair.SecondaryUri);
        Assert.True(atCheckpoint.AsSpan().SequenceEqual(served), "the promoted node serves an image that differs from the primary's at the last checkpoint");
    }

    [Fact]
    public async Task A_secondary_promoted_while_the_link_was_down_is_never_resynced_into()
    {
        await using DaemonPair pair = await DaemonPair.StartAsync(withProxy: true);
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x71 0 1M", "flush");
        long epoch = await pair.CheckpointAsync();
        byte[] atCheckpoint = await File.ReadAllBytesAsync(pair.PrimaryImage);
        pair.Proxy!.Cut();
        await pair.WaitUntilDegradedAsync();
        Assert.Equal(epoch, await pair.FailoverAsync());

        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x72 0 1M");
        pair.Proxy.Heal();
        await pair.Primary!.WaitForOutputAsync("no longer reconnecting");

        System.Text.Json.Nodes.JsonNode status = (await DaemonPair.StatusAsync(pair.PrimaryState))["status"]!;
        Assert.Equal("Degraded", status["Replication"]!.GetValue<string>());
        Assert.Contains("fenced", status["Link"]!.GetValue<string>(), StringComparison.Ordinal);
        // Fenced, the old primary acknowledges nothing more: what it would write is lost to the pair (I6).
        (int code, string output) = await Tool.RunAsync("qemu-io", "-f", "raw", "-c", "write -P 0x73 1M 1M", pair.PrimaryUri);
        Assert.True(code != 0 || output.Contains("failed", StringComparison.OrdinalIgnoreCase), $"the fenced primary acknowledged a write: {output}");
        byte[] promotedImage = await File.ReadAllBytesAsync(pair.SecondaryImage);
        Assert.True(atCheckpoint.AsSpan().SequenceEqual(promotedImage), "the old primary wrote into the promoted node");
    }
}
