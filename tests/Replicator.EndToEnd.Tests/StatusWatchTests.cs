namespace Replicator.EndToEnd.Tests;

/// <summary><c>replicator status --watch</c>: the status redrawn until the time given, or until the node goes away.</summary>
public sealed class StatusWatchTests
{
    [Fact]
    public async Task The_watch_redraws_the_status_until_its_timeout_and_ends_with_the_reason_when_the_node_goes_away()
    {
        await using DaemonPair pair = await DaemonPair.StartAsync();

        (int code, string output) = await ReplicatorProcess.RunAsync("status", "--state-dir", pair.PrimaryState, "--watch", "--timeout", "1500");
        Assert.True(code == 0, output);
        Assert.Contains("Replication", output, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{pair.PrimaryNbd}", output, StringComparison.Ordinal);

        await using ReplicatorProcess watch = ReplicatorProcess.Start("status", "--state-dir", pair.SecondaryState, "--watch");
        await watch.WaitForOutputAsync("LastCommittedEpoch");
        pair.Secondary!.Kill();
        Assert.Equal(1, await watch.WaitForExitAsync());
        Assert.Contains("replicator status --watch:", watch.Output, StringComparison.Ordinal);
    }
}
