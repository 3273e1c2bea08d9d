using System.Text.Json.Nodes;

namespace Replicator.EndToEnd.Tests;

/// <summary>Failback with real daemons: the node that took over replicates back to the old primary, which comes back as its secondary.</summary>
public class FailbackTests
{
    private const int MiB = 1 << 20;

    [Fact]
    public async Task After_a_failover_the_old_primary_comes_back_as_a_secondary_and_only_what_either_side_wrote_is_copied()
    {
        await using DaemonPair pair = await DaemonPair.StartWithPeersAsync();

        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x11 0 2M", "flush");
        long epoch = await pair.CheckpointAsync();
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x12 4M 512k", "flush");   // never in a checkpoint: rolled back
        pair.Primary!.Kill();
        await pair.Primary.DisposeAsync();
        Assert.Equal(epoch, await pair.FailoverAsync());
        await Tool.QemuIo(pair.SecondaryUri, "write -P 0x13 8M 1M", "flush");   // the new primary's own writes

        ReplicatorProcess old = pair.StartPrimaryAsSecondary();
        await old.WaitForOutputAsync("listening for the primary");
        Assert.Contains("this node was the primary", old.Output, StringComparison.Ordinal);
        await pair.Secondary!.WaitForOutputAsync("resync complete: the pair is protected again");

        // The old primary's hot extents (0-8 MiB: 4 MiB each) and the new primary's 1 MiB; never the 16 MiB image.
        JsonNode status = (await DaemonPair.StatusAsync(pair.SecondaryState))["status"]!;
        Assert.False(status["SyncWholeImage"]!.GetValue<bool>());
        Assert.Equal(9L * MiB, status["SyncBytesTotal"]!.GetValue<long>());
        Assert.Contains("the secondary was a primary", pair.Secondary.Output, StringComparison.Ordinal);

        (int code, string verify) = await ReplicatorProcess.RunAsync("verify", "--state-dir", pair.SecondaryState);
        Assert.True(code == 0, verify);

        // Both stopped cleanly: the two image files are equal, and the old primary's unprotected write is gone.
        await pair.Secondary.TerminateAsync();
        Assert.Equal(0, await pair.Secondary.WaitForExitAsync());
        await old.TerminateAsync();
        Assert.Equal(0, await old.WaitForExitAsync());
        (code, string compare) = await Tool.RunAsync("qemu-img", "compare", "-f", "raw", "-F", "raw", pair.PrimaryImage, pair.SecondaryImage);
        Assert.True(code == 0, $"the images differ after failback: {compare}");
        byte[] image = await File.ReadAllBytesAsync(pair.PrimaryImage);
        Assert.All(image.AsSpan(4 * MiB, MiB / 2).ToArray(), b => Assert.Equal(0, b));
        Assert.All(image.AsSpan(8 * MiB, MiB).ToArray(), b => Assert.Equal(0x13, b));
        Assert.All(image.AsSpan(0, 2 * MiB).ToArray(), b => Assert.Equal(0x11, b));
    }

    [Fact]
    public async Task An_old_primary_that_wrote_alone_after_the_failover_is_refused_as_a_split_brain_until_its_writes_are_discarded()
    {
        await using DaemonPair pair = await DaemonPair.StartWithPeersAsync("--reconnect-ms", "0");
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x21 0 1M");
        await pair.CheckpointAsync();

        // The secondary dies and the primary goes on alone (a new generation); then the secondary
        // comes back and is failed over to anyway: both wrote after the same generation.
        pair.Secondary!.Kill();
        await pair.WaitUntilDegradedAsync();
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x22 1M 1M");
        await pair.Secondary.DisposeAsync();
        pair.StartSecondary(pair.PeerOfSecondary);
        await pair.Secondary.WaitForOutputAsync("listening for the primary");
        await pair.FailoverAsync();
        await Tool.QemuIo(pair.SecondaryUri, "write -P 0x23 2M 1M");

        await pair.Primary!.TerminateAsync();
        await pair.Primary.WaitForExitAsync();
        await pair.Primary.DisposeAsync();
        ReplicatorProcess old = pair.StartPrimaryAsSecondary();
        await old.WaitForOutputAsync("split brain: both nodes wrote alone after generation");
        await pair.Secondary.WaitForOutputAsync("split brain: both nodes wrote alone after generation");
        Assert.Contains("writes with no secondary following", old.Output, StringComparison.Ordinal);
        Assert.Contains("discard-my-data", old.Output, StringComparison.Ordinal);
        Assert.Contains("Degraded", (await DaemonPair.StatusAsync(pair.SecondaryState))["status"]!["Replication"]!.GetValue<string>(), StringComparison.Ordinal);

        // The operator keeps the new primary's data: the old primary's is discarded, and it is synced whole.
        await old.TerminateAsync();
        Assert.Equal(0, await old.WaitForExitAsync());
        await old.DisposeAsync();
        (int code, string output) = await ReplicatorProcess.RunAsync("discard-my-data", "--state-dir", pair.PrimaryState);
        Assert.True(code == 0, output);
        old = pair.StartPrimaryAsSecondary();
        await pair.Secondary.WaitForOutputAsync("resync complete: the pair is protected again");
        Assert.True((await DaemonPair.StatusAsync(pair.SecondaryState))["status"]!["SyncWholeImage"]!.GetValue<bool>());
        await pair.Secondary.TerminateAsync();
        Assert.Equal(0, await pair.Secondary.WaitForExitAsync());
        await old.TerminateAsync();
        Assert.Equal(0, await old.WaitForExitAsync());
        (code, string compare) = await Tool.RunAsync("qemu-img", "compare", "-f", "raw", "-F", "raw", pair.PrimaryImage, pair.SecondaryImage);
        Assert.True(code == 0, $"the images differ after the split brain was resolved: {compare}");
        byte[] image = await File.ReadAllBytesAsync(pair.PrimaryImage);
        Assert.All(image.AsSpan(MiB, MiB).ToArray(), b => Assert.NotEqual(0x22, b));
        Assert.All(image.AsSpan(2 * MiB, MiB).ToArray(), b => Assert.Equal(0x23, b));
    }
}
