namespace Replicator.EndToEnd.Tests;

public class DemoTests
{
    [Theory]
    [InlineData("1")]
    [InlineData("2")]
    public async Task The_demo_runs_a_pair_of_processes_to_a_passing_verdict(string seed)
    {
        (int code, string output) = await ReplicatorProcess.RunAsync("demo", "--seed", seed);

        Assert.True(code == 0, output);
        Assert.Contains("verdict: PASS", output, StringComparison.Ordinal);
        Assert.Contains("equal the guest's own record of that checkpoint", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_in_process_demo_passes_too()
    {
        (int code, string output) = await ReplicatorProcess.RunAsync("demo", "--in-process", "--seed", "3", "--requests", "3000");
        Assert.True(code == 0, output);
        Assert.Contains("verdict: PASS", output, StringComparison.Ordinal);
    }
}
