using System.Text.Json.Nodes;

namespace Replicator.EndToEnd.Tests;

/// <summary><c>replicator events</c> against real daemons: what an operator's script following a failover sees.</summary>
public sealed class EventsTests
{
    [Fact]
    public async Task A_secondary_s_events_show_its_primary_lost_then_its_promotion()
    {
        await using DaemonPair pair = await DaemonPair.StartAsync();
        await using ReplicatorProcess events = ReplicatorProcess.Start("events", "--state-dir", pair.SecondaryState);
        await events.WaitForOutputAsync("\"type\":\"exists\",\"role\":\"secondary\"");
        Assert.Contains("\"Link\":\"connected to", events.Output, StringComparison.Ordinal);

        pair.Primary!.Kill();
        await events.WaitForOutputAsync("\"changes\":{\"Link\":\"no primary\"}");
        await pair.FailoverAsync();
        await events.WaitForOutputAsync("\"type\":\"role\",\"role\":\"promoted\"");

        JsonNode promoted = JsonNode.Parse(events.Output.Split('\n').Single(l => l.Contains("\"role\":\"promoted\"", StringComparison.Ordinal)))!;
        Assert.Equal($"127.0.0.1:{pair.SecondaryNbd}", promoted["state"]!["Nbd"]!.GetValue<string>());
        Assert.StartsWith("generation ", promoted["state"]!["DataGeneration"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Events_of_a_directory_with_no_node_fail_with_the_reason()
    {
        (int code, string output) = await ReplicatorProcess.RunAsync("events", "--state-dir", Path.Combine(Path.GetTempPath(), $"no-node-{Guid.NewGuid():N}"));

        Assert.Equal(1, code);
        Assert.Contains("no node is running with state directory", output, StringComparison.Ordinal);
    }
}
