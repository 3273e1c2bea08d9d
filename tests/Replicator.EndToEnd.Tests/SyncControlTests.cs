using System.Text.Json.Nodes;

namespace Replicator.EndToEnd.Tests;

public class SyncControlTests
{
    [Fact]
    public async Task A_rate_limited_full_sync_is_watched_as_a_progress_bar_and_its_limit_lifted_while_it_runs()
    {
        await using var pair = new DaemonPair { SkipInitialSync = false };
        byte[] data = new byte[DaemonPair.ImageBytes];
        new Random(11).NextBytes(data);
        await File.WriteAllBytesAsync(pair.PrimaryImage, data);
        await using (FileStream blank = File.Create(pair.SecondaryImage))
        {
            blank.SetLength(DaemonPair.ImageBytes);
        }

        pair.StartSecondary();
        await pair.Secondary!.WaitForOutputAsync("listening for the primary");

        // 16 MiB at 1 MB/s: about a quarter minute unless the limit is lifted.
        pair.StartPrimary("--sync-rate-mbps", "1");
        await pair.Primary!.WaitForOutputAsync("exporting the protected disk over NBD");
        JsonNode status = (await DaemonPair.StatusAsync(pair.PrimaryState))["status"]!;
        Assert.Equal(1, status["SyncRateLimitMBps"]!.GetValue<double>());
        Assert.False(status["SyncCompleted"]!.GetValue<bool>());

        (int code, string output) = await ReplicatorProcess.RunAsync("sync-rate", "--state-dir", pair.PrimaryState, "--mbps", "0");
        Assert.True(code == 0, output);
        await pair.Primary.WaitForOutputAsync("sync rate limit now 0 MB/s");

        (code, output) = await ReplicatorProcess.RunAsync("status", "--state-dir", pair.PrimaryState, "--until-synced", "--timeout", "60000");
        Assert.True(code == 0, output);
        Assert.Contains("full sync complete", output, StringComparison.Ordinal);
        status = (await DaemonPair.StatusAsync(pair.PrimaryState))["status"]!;
        Assert.Equal(0, status["SyncRateLimitMBps"]!.GetValue<double>());
        Assert.True(status["SyncCompleted"]!.GetValue<bool>());

        (code, output) = await ReplicatorProcess.RunAsync("sync-rate", "--state-dir", pair.PrimaryState, "--mbps", "-3");
        Assert.NotEqual(0, code);
        Assert.Contains("--mbps must be 0 (no limit) or more", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_full_sync_with_checksums_copies_only_what_differs_on_a_secondary_that_still_holds_the_data()
    {
        await using DaemonPair pair = await DaemonPair.StartAsync();
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0xc1 0 8M");
        await pair.CheckpointAsync();
        await pair.Primary!.TerminateAsync();
        Assert.Equal(0, await pair.Primary.WaitForExitAsync());
        await pair.Primary.DisposeAsync();
        await pair.Secondary!.TerminateAsync();
        Assert.Equal(0, await pair.Secondary.WaitForExitAsync());
        await pair.Secondary.DisposeAsync();

        // The secondary gives up its data (its image keeps the bytes); the primary's image changes in one place meanwhile.
        (int code, string output) = await ReplicatorProcess.RunAsync("discard-my-data", "--state-dir", pair.SecondaryState);
        Assert.True(code == 0, output);
        await using (FileStream image = new(pair.PrimaryImage, FileMode.Open, FileAccess.Write))
        {
            image.Position = 12L << 20;
            image.Write(Enumerable.Repeat((byte)0xc2, 1 << 20).ToArray());
        }

        pair.StartSecondary();
        await pair.Secondary!.WaitForOutputAsync("listening for the primary");
        pair.StartPrimary("--sync-checksums");
        await pair.Primary!.WaitForOutputAsync("exporting the protected disk over NBD");
        Assert.Contains("full sync started", pair.Primary.Output, StringComparison.Ordinal);
        await pair.CheckpointAsync();
        await pair.Primary.WaitForOutputAsync("already equal on the secondary");

        JsonNode status = (await DaemonPair.StatusAsync(pair.PrimaryState))["status"]!;
        Assert.True(status["SyncCompleted"]!.GetValue<bool>());
        Assert.Equal(DaemonPair.ImageBytes - (1L << 20), status["SyncBytesFoundEqual"]!.GetValue<long>());

        await pair.Primary.TerminateAsync();
        Assert.Equal(0, await pair.Primary.WaitForExitAsync());
        byte[] expected = await File.ReadAllBytesAsync(pair.PrimaryImage);
        await pair.FailoverAsync();
        byte[] served = await pair.ReadThroughNbdAsync(pair.SecondaryUri);
        Assert.True(expected.AsSpan().SequenceEqual(served), "the secondary differs from the primary it was synced from");
    }
}
