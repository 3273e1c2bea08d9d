using Replicator.Cli.Hosting;

namespace Replicator.EndToEnd.Tests;

/// <summary><c>--buffer-mb</c> and <c>--writeback-mb</c>: the secondary's two RAM bounds, 64 and 256 MiB unless set, checked before they become bytes.</summary>
public class SecondaryBoundSettingTests
{
    private static NodeSettings Valid() => new();

    [Fact]
    public void The_defaults_are_a_64_MiB_credit_window_and_a_256_MiB_write_back_backlog()
    {
        var problems = new List<string>();

        (long buffer, long writeback) = Valid().SecondaryRamBounds(problems);

        Assert.Empty(problems);
        Assert.Equal((64L << 20, 256L << 20), (buffer, writeback));
    }

    [Fact]
    public void A_write_back_bound_of_0_is_allowed_and_means_credit_waits_for_the_write_back()
    {
        var problems = new List<string>();
        NodeSettings settings = Valid();
        settings.WritebackMb = 0;

        (_, long writeback) = settings.SecondaryRamBounds(problems);

        Assert.Empty(problems);
        Assert.Equal(0, writeback);
    }

    [Theory]
    [InlineData(0, 256, "--buffer-mb 0 must be 1..1048576")]
    [InlineData(-1, 256, "--buffer-mb -1 must be 1..1048576")]
    [InlineData(1048577, 256, "--buffer-mb 1048577 must be 1..1048576")]
    [InlineData(64, -1, "--writeback-mb -1 must be 0..1048576")]
    [InlineData(64, 17592186044416, "--writeback-mb 17592186044416 must be 0..1048576")] // 2^44: shifted into bytes it would wrap to 0
    public void A_value_out_of_range_is_a_problem_naming_the_option(long bufferMb, long writebackMb, string problem)
    {
        var problems = new List<string>();
        NodeSettings settings = Valid();
        settings.BufferMb = bufferMb;
        settings.WritebackMb = writebackMb;

        settings.SecondaryRamBounds(problems);

        Assert.Equal(problem, Assert.Single(problems));
    }
}
