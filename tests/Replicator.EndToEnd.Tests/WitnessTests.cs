using System.Text.Json.Nodes;

namespace Replicator.EndToEnd.Tests;

/// <summary>
/// Automatic failover with a witness, with real processes and proxies that cut each of the
/// primary's links: at no point do two nodes acknowledge guest writes (I6), and a write the old
/// primary took after it lost its majority is never acknowledged.
/// </summary>
public sealed class WitnessTests
{
    // The secondary promotes after 1.5 s of silence; the primary counts on a lease for 1 s, renewed
    // at every 200 ms heartbeat — room enough that a loaded machine does not let it lapse.
    private static readonly string[] SecondaryOptions = ["--auto-failover", "--heartbeat-timeout-ms", "1500", "--lease-ms", "1000"];
    private static readonly string[] PrimaryOptions = ["--heartbeat-timeout-ms", "1500", "--lease-ms", "1000"];
    private static readonly string[] OperatorOnly = ["--heartbeat-timeout-ms", "1500", "--lease-ms", "1000"];

    [Fact]
    public async Task With_a_witness_the_secondary_promotes_itself_when_the_primary_dies()
    {
        await using DaemonPair pair = await DaemonPair.StartWithWitnessAsync(false, SecondaryOptions, PrimaryOptions);
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x91 0 1M");
        long epoch = await pair.CheckpointAsync();
        byte[] atCheckpoint = await File.ReadAllBytesAsync(pair.PrimaryImage);

        pair.Primary!.Kill();
        await pair.Secondary!.WaitForOutputAsync("serving the image over NBD");

        Assert.Contains("voted for it", pair.Secondary.Output, StringComparison.Ordinal);
        Assert.Contains($"serving checkpoint {epoch} ", pair.Secondary.Output, StringComparison.Ordinal);
        await Tool.QemuIo(pair.SecondaryUri, "read -P 0x91 0 1M");
        await pair.WaitUntilTakeoverDrainedAsync();
        byte[] promotedImage = await File.ReadAllBytesAsync(pair.SecondaryImage);
        Assert.True(atCheckpoint.AsSpan().SequenceEqual(promotedImage));
        JsonNode witness = (await DaemonPair.StatusAsync(pair.WitnessState))["status"]!;
        Assert.Contains("1 promotions voted", witness["Pair replicator"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_primary_cut_from_both_suspends_and_the_write_it_holds_is_never_acknowledged_once_the_secondary_took_over()
    {
        await using DaemonPair pair = await DaemonPair.StartWithWitnessAsync(true, SecondaryOptions, PrimaryOptions);
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x61 0 1M");
        long epoch = await pair.CheckpointAsync();

        pair.Proxy!.Cut();
        pair.WitnessProxy!.Cut();
        await pair.Secondary!.WaitForOutputAsync("serving the image over NBD");
        Task<(int ExitCode, string Output)> write = Tool.RunAsync("qemu-io", "-f", "raw", "-c", "write -P 0x62 1M 1M", pair.PrimaryUri);
        await pair.Primary!.WaitForOutputAsync("no majority");
        Assert.False(write.IsCompleted, "the primary answered a write with no majority");

        // The witness is back: it tells the old primary its generation was taken over.
        pair.WitnessProxy.Heal();
        (int code, string output) = await write;
        Assert.True(code != 0 || output.Contains("failed", StringComparison.OrdinalIgnoreCase), $"the superseded primary acknowledged a write: {output}");
        await pair.Primary.WaitForOutputAsync("was taken over");
        JsonNode status = (await DaemonPair.StatusAsync(pair.PrimaryState))["status"]!;
        Assert.Equal("Superseded", status["Quorum"]!.GetValue<string>());

        Assert.Contains($"serving checkpoint {epoch} ", pair.Secondary.Output, StringComparison.Ordinal);
        await Tool.QemuIo(pair.SecondaryUri, "read -P 0x61 0 1M", "read -P 0 1M 4k");
    }

    [Fact]
    public async Task A_primary_cut_from_the_secondary_only_goes_on_with_the_witness_and_nobody_promotes()
    {
        await using DaemonPair pair = await DaemonPair.StartWithWitnessAsync(true, SecondaryOptions, PrimaryOptions);
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x51 0 1M");
        await pair.CheckpointAsync();

        pair.Proxy!.Cut();
        await pair.WaitUntilDegradedAsync();
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x52 1M 1M", "read -P 0x51 0 1M");

        // The pair's data moved on without the secondary: the witness will never vote for it.
        await pair.Secondary!.WaitForOutputAsync("will not vote for this node's promotion");
        Assert.DoesNotContain("serving the image over NBD", pair.Secondary.Output, StringComparison.Ordinal);
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x53 2M 1M");
    }

    [Fact]
    public async Task With_the_witness_down_nothing_changes_while_both_nodes_see_each_other()
    {
        await using DaemonPair pair = await DaemonPair.StartWithWitnessAsync(false, SecondaryOptions, PrimaryOptions);
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x41 0 1M");
        await pair.CheckpointAsync();

        pair.Witness!.Kill();
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x42 1M 1M");
        long epoch = await pair.CheckpointAsync();
        JsonNode status = (await DaemonPair.StatusAsync(pair.PrimaryState))["status"]!;
        Assert.Equal("Peer", status["Quorum"]!.GetValue<string>());
        Assert.Equal("Protected", status["Protection"]!.GetValue<string>());
        Assert.True(epoch > 0);
    }

    [Fact]
    public async Task Without_a_witness_the_fence_command_runs_with_the_old_primary_s_identity_before_the_promotion()
    {
        await using var pair = new DaemonPair();
        string fenced = pair.FileInDirectory("fenced.txt");
        pair.CreateImages(DaemonPair.ImageBytes, DaemonPair.ImageBytes);
        pair.StartSecondary("--auto-failover", "--heartbeat-timeout-ms", "1500", "--fence-command", $"printf '%s %s' \"$REPLICATOR_PAIR_ID\" \"$REPLICATOR_GENERATION\" > {fenced}");
        await pair.Secondary!.WaitForOutputAsync("listening for the primary");
        pair.StartPrimary();
        await pair.Primary!.WaitForOutputAsync("exporting the protected disk over NBD");
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x31 0 1M");
        await pair.CheckpointAsync();

        pair.Primary.Kill();
        await pair.Secondary.WaitForOutputAsync("serving the image over NBD");
        Assert.Contains("the fence command succeeded", pair.Secondary.Output, StringComparison.Ordinal);
        Assert.Matches("^replicator [0-9a-f]{16}$", await File.ReadAllTextAsync(fenced));
        await Tool.QemuIo(pair.SecondaryUri, "read -P 0x31 0 1M");
    }

    [Fact]
    public async Task Auto_failover_with_neither_a_witness_nor_a_fence_command_refuses_to_start()
    {
        await using var pair = new DaemonPair();
        pair.CreateImages(DaemonPair.ImageBytes, DaemonPair.ImageBytes);
        pair.StartSecondary("--auto-failover");
        Assert.Equal(2, await pair.Secondary!.WaitForExitAsync());
        Assert.Contains("--auto-failover needs --witness HOST:PORT or --fence-command CMD", pair.Secondary.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_operator_s_failover_goes_to_the_witness_and_is_refused_for_a_secondary_the_cut_off_primary_went_on_without()
    {
        // No --auto-failover: only the operator fails over, and with a witness that is a vote too.
        await using DaemonPair pair = await DaemonPair.StartWithWitnessAsync(true, OperatorOnly, PrimaryOptions);
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x71 0 1M");
        await pair.CheckpointAsync();

        pair.Proxy!.Cut();
        await pair.WaitUntilDegradedAsync();
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x72 1M 1M");
        (int code, string output) = await ReplicatorProcess.RunAsync("failover", "--state-dir", pair.SecondaryState);

        Assert.NotEqual(0, code);
        Assert.Contains("not promoted", output, StringComparison.Ordinal);
        Assert.DoesNotContain("serving the image over NBD", pair.Secondary!.Output, StringComparison.Ordinal);
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x73 2M 1M", "read -P 0x72 1M 1M");
    }

    [Fact]
    public async Task An_operator_s_failover_after_the_primary_died_is_voted_by_the_witness_once_its_lease_ran_out()
    {
        await using DaemonPair pair = await DaemonPair.StartWithWitnessAsync(false, OperatorOnly, PrimaryOptions);
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x81 0 1M");
        long epoch = await pair.CheckpointAsync();

        pair.Primary!.Kill();

        // Until the dead primary's lease has run out the witness refuses, and says why: the operator asks again.
        string refusals = string.Empty;
        for (int attempt = 0; ; attempt++)
        {
            (int code, string output) = await ReplicatorProcess.RunAsync("failover", "--state-dir", pair.SecondaryState);
            if (code == 0)
            {
                Assert.True(JsonNode.Parse(output)!["epoch"]!.GetValue<long>() >= epoch, output);
                break;
            }

            refusals += output;
            Assert.True(attempt < 50, $"never promoted:\n{refusals}");
        }

        Assert.Contains("with the vote of the witness", pair.Secondary!.Output, StringComparison.Ordinal);
        await Tool.QemuIo(pair.SecondaryUri, "read -P 0x81 0 1M");
        JsonNode witness = (await DaemonPair.StatusAsync(pair.WitnessState))["status"]!;
        Assert.Contains("1 promotions voted", witness["Pair replicator"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
