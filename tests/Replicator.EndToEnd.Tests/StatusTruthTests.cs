using System.Text.Json.Nodes;

namespace Replicator.EndToEnd.Tests;

/// <summary>What the primary's status and `checkpoint` say while its secondary is connected but not committing.</summary>
public class StatusTruthTests
{
    [Fact]
    public async Task A_stalled_secondary_shows_as_stalled_and_checkpoint_times_out_naming_why()
    {
        // Heartbeats outlast the test, so the link stays up; acknowledgements are bound to 300 ms.
        string[] slowHeartbeats = ["--heartbeat-timeout-ms", "600000"];
        await using DaemonPair pair = await DaemonPair.StartAsync(false, slowHeartbeats, [.. slowHeartbeats, "--ack-timeout-ms", "300"]);
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x61 0 1M");
        await pair.CheckpointAsync();
        Assert.Equal("Protected", (await DaemonPair.StatusAsync(pair.PrimaryState))["status"]?["Protection"]?.GetValue<string>());

        await Tool.RunAsync("kill", "-STOP", pair.Secondary!.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            (int code, string output) = await ReplicatorProcess.RunAsync("checkpoint", "--state-dir", pair.PrimaryState, "--timeout", "1500");
            Assert.Equal(1, code);
            Assert.Contains("no answer within 1500 ms; the pair is Stalled: checkpoint", output, StringComparison.Ordinal);
            Assert.Contains("for the secondary's acknowledgement (bound 300 ms)", output, StringComparison.Ordinal);

            JsonNode status = (await DaemonPair.StatusAsync(pair.PrimaryState))["status"]!;
            Assert.Equal("Stalled", status["Protection"]?.GetValue<string>());
            await pair.Primary!.WaitForOutputAsync("the guest is not protected: Stalled");
        }
        finally
        {
            await Tool.RunAsync("kill", "-CONT", pair.Secondary.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        Assert.True(await pair.CheckpointAsync() > 0);
        await pair.Primary.WaitForOutputAsync("protected again (was Stalled)");
    }
}
