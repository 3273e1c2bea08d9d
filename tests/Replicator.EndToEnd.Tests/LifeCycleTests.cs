using System.Text.Json.Nodes;

namespace Replicator.EndToEnd.Tests;

/// <summary>
/// The pair's life with real processes: forming it from a blank secondary while the guest writes,
/// and going back on a failover by discarding the promoted node's data.
/// </summary>
public class LifeCycleTests
{
    [Fact]
    public async Task A_blank_secondary_is_synced_whole_while_the_guest_writes_and_ends_equal_to_the_primary()
    {
        await using var pair = new DaemonPair { SkipInitialSync = false };

        // The primary holds data; the secondary's image is a new, zeroed file.
        byte[] data = new byte[DaemonPair.ImageBytes];
        new Random(7).NextBytes(data);
        await File.WriteAllBytesAsync(pair.PrimaryImage, data);
        await using (FileStream blank = File.Create(pair.SecondaryImage))
        {
            blank.SetLength(DaemonPair.ImageBytes);
        }

        pair.StartSecondary();
        await pair.Secondary!.WaitForOutputAsync("listening for the primary");
        pair.StartPrimary();
        await pair.Primary!.WaitForOutputAsync("exporting the protected disk over NBD");
        Assert.Contains("full sync started", pair.Primary.Output, StringComparison.Ordinal);
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0xa1 0 1M", "write -P 0xa2 9M 64k", "flush");

        // A checkpoint returns once the pair is protected: the copy is acknowledged.
        await pair.CheckpointAsync();
        System.Text.Json.Nodes.JsonNode primary = (await DaemonPair.StatusAsync(pair.PrimaryState))["status"]!;
        System.Text.Json.Nodes.JsonNode secondary = (await DaemonPair.StatusAsync(pair.SecondaryState))["status"]!;
        Assert.Equal("Protected", primary["Replication"]!.GetValue<string>());
        Assert.True(primary["SyncCompleted"]!.GetValue<bool>());
        Assert.True(primary["SyncWholeImage"]!.GetValue<bool>());
        Assert.Equal(DaemonPair.ImageBytes, primary["SyncBytesTotal"]!.GetValue<long>());
        Assert.StartsWith("full sync complete", primary["Sync"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("the pair's data began", primary["DataGeneration"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(primary["DataGeneration"]!.GetValue<string>(), secondary["DataGeneration"]!.GetValue<string>());
        Assert.Contains("sync complete", pair.Secondary!.Output, StringComparison.Ordinal);

        await AssertFailoverServesThePrimarysImageAsync(pair);
    }

    [Fact]
    public async Task A_promoted_node_whose_data_is_discarded_is_synced_whole_from_the_old_primary()
    {
        await using DaemonPair pair = await DaemonPair.StartAsync(withProxy: true);
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0xb1 0 1M");
        await pair.CheckpointAsync();
        pair.Proxy!.Cut();
        await pair.WaitUntilDegradedAsync();
        await pair.FailoverAsync();
        await Tool.QemuIo(pair.SecondaryUri, "write -P 0xb3 2M 1M");   // the promoted node's own write
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0xb2 1M 1M");     // and the old primary's, unprotected
        pair.Proxy.Heal();
        await pair.Primary!.WaitForOutputAsync("no longer reconnecting");

        // The operator keeps the old primary's data: the promoted node's is discarded, only while it is down.
        (int code, string output) = await ReplicatorProcess.RunAsync("discard-my-data", "--state-dir", pair.SecondaryState);
        Assert.NotEqual(0, code);
        Assert.Contains("stop it first", output, StringComparison.Ordinal);
        await pair.Secondary!.TerminateAsync();
        await pair.Secondary.WaitForExitAsync();
        await pair.Secondary.DisposeAsync();
        (code, output) = await ReplicatorProcess.RunAsync("discard-my-data", "--state-dir", pair.SecondaryState);
        Assert.True(code == 0, output);
        Assert.Contains("(promotion, since", output, StringComparison.Ordinal);
        Assert.Contains("it is now a blank secondary", output, StringComparison.Ordinal);

        // Both daemons start again; the old primary copies its whole image over the discarded one.
        await pair.Primary.TerminateAsync();
        await pair.Primary.WaitForExitAsync();
        await pair.Primary.DisposeAsync();
        pair.StartSecondary();
        await pair.Secondary!.WaitForOutputAsync("listening for the primary");
        pair.StartPrimary();
        await pair.Primary.WaitForOutputAsync("exporting the protected disk over NBD");
        Assert.Contains("full sync started", pair.Primary.Output, StringComparison.Ordinal);
        await pair.CheckpointAsync();
        await Tool.QemuIo(pair.PrimaryUri, "read -P 0xb2 1M 1M");

        await AssertFailoverServesThePrimarysImageAsync(pair);
    }

    [Fact]
    public async Task A_pair_stopped_cleanly_leaves_two_equal_image_files()
    {
        await using DaemonPair pair = await DaemonPair.StartAsync();
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0xc1 0 1M", "write -P 0xc2 5M 256k");
        await pair.CheckpointAsync();
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0xc3 1M 1M", "write -z 5M 64k");

        // The primary first (its last checkpoint), then the secondary (it applies what it committed).
        await pair.Primary!.TerminateAsync();
        Assert.Equal(0, await pair.Primary.WaitForExitAsync());
        await pair.Secondary!.TerminateAsync();
        Assert.Equal(0, await pair.Secondary.WaitForExitAsync());

        Assert.Contains("nothing committed is left only in the journal", pair.Secondary.Output, StringComparison.Ordinal);
        byte[] primary = await File.ReadAllBytesAsync(pair.PrimaryImage);
        byte[] secondary = await File.ReadAllBytesAsync(pair.SecondaryImage);
        Assert.True(primary.AsSpan().SequenceEqual(secondary), "the image files of a pair stopped cleanly differ");
    }

    [Fact]
    public async Task A_promoted_node_restarted_is_still_a_primary_and_serves_again_from_where_it_was()
    {
        await using DaemonPair pair = await DaemonPair.StartAsync();
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0xd1 0 1M");
        long epoch = await pair.CheckpointAsync();
        pair.Primary!.Kill();
        Assert.Equal(epoch, await pair.FailoverAsync());
        await Tool.QemuIo(pair.SecondaryUri, "write -P 0xd2 1M 1M");
        string generation = (await DaemonPair.StatusAsync(pair.SecondaryState))["status"]!["DataGeneration"]!.GetValue<string>();
        Assert.Contains("promotion", generation, StringComparison.Ordinal);

        await pair.Secondary!.TerminateAsync();
        Assert.Equal(0, await pair.Secondary.WaitForExitAsync());
        await pair.Secondary.DisposeAsync();
        pair.StartSecondary();
        await pair.Secondary.WaitForOutputAsync("serving the image over NBD");

        Assert.Contains("still promoted after a restart", pair.Secondary.Output, StringComparison.Ordinal);
        JsonNode status = await DaemonPair.StatusAsync(pair.SecondaryState);
        Assert.Equal("promoted", status["role"]!.GetValue<string>());

        // Its writes from here on follow no secondary: a generation of their own (a peer holding the promotion's would be behind it).
        string restarted = status["status"]!["DataGeneration"]!.GetValue<string>();
        Assert.NotEqual(generation, restarted);
        Assert.Contains("writes with no secondary following", restarted, StringComparison.Ordinal);
        await Tool.QemuIo(pair.SecondaryUri, "read -P 0xd1 0 1M", "read -P 0xd2 1M 1M");
    }

    [Fact]
    public async Task A_damaged_dirty_log_stops_the_primary_and_moving_it_away_costs_a_whole_image_sync()
    {
        await using DaemonPair pair = await DaemonPair.StartAsync();
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0xe1 0 1M");
        await pair.CheckpointAsync();
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0xe2 5M 1M");
        pair.Primary!.Kill();
        await pair.Primary.WaitForExitAsync();
        await pair.Primary.DisposeAsync();

        // Both header slots spoiled: no crash does that.
        string log = Path.Combine(pair.PrimaryState, "dirty-log.bin");
        await using (FileStream file = new(log, FileMode.Open, FileAccess.Write))
        {
            file.Position = 8;
            file.Write([0xde, 0xad]);
            file.Position = 4096 + 8;
            file.Write([0xde, 0xad]);
        }

        byte[] damaged = await File.ReadAllBytesAsync(log);
        pair.StartPrimary();
        Assert.NotEqual(0, await pair.Primary.WaitForExitAsync());
        Assert.Contains($"dirty log {log} is damaged: neither of its two headers verifies", pair.Primary.Output, StringComparison.Ordinal);
        Assert.Equal(damaged, await File.ReadAllBytesAsync(log));

        // The runbook: keep it, move it out of the state directory, start again.
        await pair.Primary.DisposeAsync();
        File.Move(log, log + ".damaged-kept");
        pair.StartPrimary();
        await pair.Primary.WaitForOutputAsync("exporting the protected disk over NBD");
        Assert.Contains("a new dirty log was started: there is no dirty log yet", pair.Primary.Output, StringComparison.Ordinal);
        Assert.Contains("full sync started", pair.Primary.Output, StringComparison.Ordinal);
        await pair.CheckpointAsync();
        Assert.True((await DaemonPair.StatusAsync(pair.PrimaryState))["status"]!["SyncWholeImage"]!.GetValue<bool>());
        await AssertFailoverServesThePrimarysImageAsync(pair);
    }

    /// <summary>The primary stops cleanly; the secondary, failed over, serves exactly the primary's image.</summary>
    private static async Task AssertFailoverServesThePrimarysImageAsync(DaemonPair pair)
    {
        await pair.Primary!.TerminateAsync();
        Assert.Equal(0, await pair.Primary.WaitForExitAsync());
        byte[] expected = await File.ReadAllBytesAsync(pair.PrimaryImage);
        await pair.FailoverAsync();
        byte[] served = await pair.ReadThroughNbdAsync(pair.SecondaryUri);
        Assert.True(expected.AsSpan().SequenceEqual(served), "the secondary differs from the primary it was synced from");
    }
}
