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

        (code, output) = await ReplicatorProcess.RunAsync("status", "--state-dir", pair.PrimaryState, "--watch", "--timeout", "60000");
        Assert.True(code == 0, output);
        Assert.Contains("full sync complete", output, StringComparison.Ordinal);
        status = (await DaemonPair.StatusAsync(pair.PrimaryState))["status"]!;
        Assert.Equal(0, status["SyncRateLimitMBps"]!.GetValue<double>());
        Assert.True(status["SyncCompleted"]!.GetValue<bool>());

        (code, output) = await ReplicatorProcess.RunAsync("sync-rate", "--state-dir", pair.PrimaryState, "--mbps", "-3");
        Assert.NotEqual(0, code);
        Assert.Contains("--mbps must be 0 (no limit) or more", output, StringComparison.Ordinal);
    }
}
