namespace Replicator.Sim.Tests;

public class SimulatorCommandTests
{
    [Fact]
    public void Replaying_a_seed_prints_its_scenario_trace_and_verdict()
    {
        var output = new StringWriter();
        int exit = SimulatorCommand.Run(["--seed", "7", "--trace"], output);

        string text = output.ToString();
        Assert.Equal(0, exit);
        Assert.StartsWith("seed 7:", text, StringComparison.Ordinal);
        Assert.Contains(" ms  commit ", text, StringComparison.Ordinal);
        Assert.EndsWith($"seeds: 1 passed, 0 failed{Environment.NewLine}", text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_planted_bug_fails_the_batch_and_prints_the_failing_seed_and_its_replay()
    {
        var output = new StringWriter();
        int exit = SimulatorCommand.Run(["--seeds", "3", "--plant", "early-output"], output);

        string text = output.ToString();
        Assert.Equal(1, exit);
        string seed = System.Text.RegularExpressions.Regex.Match(text, @"failing seed: seed (\d+):").Groups[1].Value;
        Assert.NotEmpty(seed);
        Assert.Contains($"shrunk to: seed {seed}:", text, StringComparison.Ordinal);
        Assert.Contains($"--seed {seed} --trace --plant early-output", text, StringComparison.Ordinal);
        Assert.Contains("events/s", text, StringComparison.Ordinal);
        Assert.Matches(@"seeds: \d passed, [1-3] failed", text);
    }

    [Theory]
    [InlineData("--plant", "no-such-bug")]
    [InlineData("--seeds", "zero")]
    [InlineData("--bogus")]
    [InlineData("--seeds", "0")]
    [InlineData("--trace")]
    public void Bad_arguments_exit_2_with_the_usage(params string[] args)
    {
        var output = new StringWriter();
        Assert.Equal(2, SimulatorCommand.Run(args, output));
        Assert.Contains("Usage:", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_misspelt_option_is_refused_with_a_suggestion_and_a_bad_value_names_its_option()
    {
        var output = new StringWriter();
        Assert.Equal(2, SimulatorCommand.Run(["--no-shrnk"], output));
        Assert.Contains("--no-shrink", output.ToString(), StringComparison.Ordinal);

        output = new StringWriter();
        Assert.Equal(2, SimulatorCommand.Run(["--seeds", "zero"], output));
        Assert.Contains("'--seeds'", output.ToString(), StringComparison.Ordinal);
    }
}
