namespace Replicator.EndToEnd.Tests;

/// <summary>Every command's line as a careless operator types it: exit code 2 and a message that names what is wrong.</summary>
public class CommandLineTests
{
    [Fact]
    public async Task A_value_of_the_wrong_type_exits_2_naming_the_option()
    {
        (int code, string output) = await ReplicatorProcess.RunAsync("primary", "--epoch-ms", "abc");
        Assert.Equal(2, code);
        Assert.Contains("Cannot parse argument 'abc' for option '--epoch-ms'", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_misspelt_option_is_refused_with_a_suggestion_and_never_swallows_the_next_one()
    {
        (int code, string output) = await ReplicatorProcess.RunAsync("secondary", "--auto-failvoer", "--image", "x.img");
        Assert.Equal(2, code);
        Assert.Contains("'--auto-failvoer' was not matched. Did you mean", output, StringComparison.Ordinal);
        Assert.Contains("--auto-failover", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("secondary", "--no-replication", "true", "--no-replication is an option of replicator primary, not of replicator secondary")]
    [InlineData("primary", "--failover-discarding-unverifiable-epochs", "true", "--failover-discarding-unverifiable-epochs is an option of replicator secondary, not of replicator primary")]
    [InlineData("primary", "--auto-failover", "true", "--auto-failover is an option of replicator secondary, not of replicator primary")]
    public async Task An_option_of_the_other_role_is_refused_by_name(string role, string option, string value, string message)
    {
        (int code, string output) = await ReplicatorProcess.RunAsync(role, option, value);
        Assert.Equal(2, code);
        Assert.Contains(message, output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("primary")]
    [InlineData("secondary")]
    [InlineData("checkpoint")]
    [InlineData("failover")]
    [InlineData("drained")]
    [InlineData("checkpoint-stats")]
    [InlineData("status")]
    [InlineData("keygen")]
    [InlineData("discard-my-data")]
    [InlineData("demo")]
    [InlineData("build-guest")]
    [InlineData("bench")]
    public async Task Every_command_has_help(string command)
    {
        (int code, string output) = await ReplicatorProcess.RunAsync(command, "--help");
        Assert.Equal(0, code);
        Assert.Contains($"replicator {command} [options]", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("checkpoint", "--timeout", "soon")]
    [InlineData("status")]
    [InlineData("keygen")]
    [InlineData("discard-my-data")]
    [InlineData("demo", "--requests", "5")]
    [InlineData("bench", "--plot", "out.png")]
    [InlineData("nonsense")]
    public async Task Every_usage_error_exits_2(params string[] args)
    {
        (int code, _) = await ReplicatorProcess.RunAsync(args);
        Assert.Equal(2, code);
    }

    [Theory]
    [InlineData("--sync-reads-in-flight", "0", "--sync-reads-in-flight 0 must be between 1 and 1024")]
    [InlineData("--mirror-batch-kb", "2048", "--mirror-batch-kb 2048 must be between 0 (each record sent at once) and 1024")]
    [InlineData("--sync-granularity-kb", "12", "--sync-granularity-kb 12 must be a power of two from 4 to 4096")]
    [InlineData("--activity-log-extents", "1", "--activity-log-extents 1 must be 0 (no dirty log) or between 2 and 1005")]
    [InlineData("--no-replication", "true", "drop them, or drop --no-replication")]
    public async Task The_primary_options_out_of_range_or_without_replication_are_refused_by_name(string option, string value, string message)
    {
        string image = Path.GetTempFileName();
        try
        {
            string[] link = option == "--no-replication" ? ["--skip-initial-sync"] : ["--peer", "127.0.0.1:1", "--insecure-link"];
            (int code, string output) = await ReplicatorProcess.RunAsync(["primary", "--image", image, "--state-dir", Path.GetTempPath(), option, value, .. link]);
            Assert.Equal(2, code);
            Assert.Contains(message, output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(image);
        }
    }

    [Fact]
    public async Task A_misspelt_nbd_value_exits_2_naming_both_forms_and_the_help_shows_them()
    {
        (int code, string output) = await ReplicatorProcess.RunAsync("primary", "--nbd", "unix/run/disk.sock", "--insecure-link");
        Assert.Equal(2, code);
        Assert.Contains("--nbd 'unix/run/disk.sock' is neither HOST:PORT (an IP address and port, e.g. 127.0.0.1:10809) nor unix:PATH", output, StringComparison.Ordinal);

        (code, output) = await ReplicatorProcess.RunAsync("secondary", "--help");
        Assert.Equal(0, code);
        Assert.Contains("HOST:PORT, or unix:PATH", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Settings_from_the_environment_are_checked_as_strictly_naming_the_key()
    {
        (int code, string output) = await ReplicatorProcess.RunWithEnvironmentAsync(
            new Dictionary<string, string> { ["REPLICATOR__Replicator__EpochMs"] = "abc", ["REPLICATOR__Replicator__HeartbeatMz"] = "5" },
            "primary", "--insecure-link");
        Assert.Equal(2, code);
        Assert.Contains("'abc' at 'Replicator:EpochMs' to type 'System.Int32'", output, StringComparison.Ordinal);
        Assert.Contains("unknown setting Replicator:HeartbeatMz", output, StringComparison.Ordinal);
    }
}
