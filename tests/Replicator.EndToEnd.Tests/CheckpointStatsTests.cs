using System.Text.Json.Nodes;

namespace Replicator.EndToEnd.Tests;

/// <summary><c>replicator checkpoint-stats</c>: a running primary's acknowledged checkpoints, counted exactly, with their latencies.</summary>
public sealed class CheckpointStatsTests
{
    [Fact]
    public async Task It_counts_each_acknowledged_checkpoint_once_and_a_reset_starts_afresh()
    {
        // The pair checkpoints only when asked (its epoch interval is an hour).
        await using DaemonPair pair = await DaemonPair.StartAsync();
        await StatsAsync(pair, "--reset");
        for (int i = 0; i < 5; i++)
        {
            await Tool.QemuIo(pair.PrimaryUri, $"write -P 0x4{i} {i}M 64k");
            await pair.CheckpointAsync();
        }

        JsonNode stats = await StatsAsync(pair, "--reset");
        Assert.Equal(5, stats["Checkpoints"]!.GetValue<long>());
        JsonNode commit = stats["CommitUs"]!;
        Assert.Equal(5, commit["Count"]!.GetValue<long>());
        Assert.True(commit["P50"]!.GetValue<double>() > 0 && commit["P50"]!.GetValue<double>() <= commit["P99"]!.GetValue<double>() && commit["P99"]!.GetValue<double>() <= commit["Max"]!.GetValue<double>(), stats.ToJsonString());
        Assert.Equal(5, stats["PauseUs"]!["Count"]!.GetValue<long>());
        Assert.True(stats["PhasesUs"]!["flush"]!["Count"]!.GetValue<long>() == 5, stats.ToJsonString());
        Assert.Null(stats["Vm"]);

        await pair.CheckpointAsync();
        Assert.Equal(1, (await StatsAsync(pair))["Checkpoints"]!.GetValue<long>());

        // A secondary has no checkpoints of its own to report.
        (int code, string output) = await ReplicatorProcess.RunAsync("checkpoint-stats", "--state-dir", pair.SecondaryState);
        Assert.Equal(1, code);
        Assert.Contains("does not know 'checkpoint-stats'", output, StringComparison.Ordinal);
    }

    private static async Task<JsonNode> StatsAsync(DaemonPair pair, params string[] options)
    {
        (int code, string output) = await ReplicatorProcess.RunAsync(["checkpoint-stats", "--state-dir", pair.PrimaryState, .. options]);
        Assert.True(code == 0, output);
        return JsonNode.Parse(output)!;
    }
}
