using Replicator.Cli.Hosting;
using Replicator.Protocol.Pages;

namespace Replicator.EndToEnd.Tests;

/// <summary><c>--page-encoding</c> and <c>--page-cache-mb</c>: how checkpoint pages cross the link, zero runs against 64 MiB unless set.</summary>
public class PageSettingTests
{
    [Fact]
    public void The_default_is_zero_runs_against_a_64_MiB_cache()
    {
        var problems = new List<string>();

        PageTerms terms = new NodeSettings().PageTerms(problems);

        Assert.Empty(problems);
        Assert.Equal(new PageTerms(PageEncoding.ZeroRuns, 64L << 20), terms);
    }

    [Theory]
    [InlineData("lz4", 8, PageEncoding.Lz4, 8L << 20)]
    [InlineData("none", 0, PageEncoding.None, 0)]
    [InlineData("zero-runs", 0, PageEncoding.ZeroRuns, 0)]
    public void Each_encoding_is_taken_by_its_name(string name, long cacheMb, PageEncoding encoding, long cacheBytes)
    {
        var problems = new List<string>();

        PageTerms terms = new NodeSettings { PageEncoding = name, PageCacheMb = cacheMb }.PageTerms(problems);

        Assert.Empty(problems);
        Assert.Equal(new PageTerms(encoding, cacheBytes), terms);
    }

    [Theory]
    [InlineData("zstd", 64, "--page-encoding 'zstd' must be zero-runs, lz4 or none")]
    [InlineData("ZeroRuns", 64, "--page-encoding 'ZeroRuns' must be zero-runs, lz4 or none")]
    [InlineData("zero-runs", -1, "--page-cache-mb -1 must be 0..1048576")]
    [InlineData("zero-runs", 17592186044416, "--page-cache-mb 17592186044416 must be 0..1048576")] // 2^44: shifted into bytes it would wrap to 0
    public void A_misspelt_encoding_or_a_cache_out_of_range_is_a_problem_naming_the_option(string name, long cacheMb, string problem)
    {
        var problems = new List<string>();

        new NodeSettings { PageEncoding = name, PageCacheMb = cacheMb }.PageTerms(problems);

        Assert.Equal(problem, Assert.Single(problems));
    }
}
