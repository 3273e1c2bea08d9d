using Microsoft.Extensions.Time.Testing;
using Replicator.Nbd.Logging;

namespace Replicator.Nbd.Tests.Server;

public class LogRateLimitTests
{
    [Fact]
    public void One_report_per_interval_and_the_next_one_counts_those_held_back()
    {
        var time = new FakeTimeProvider();
        var limit = new LogRateLimit(time, TimeSpan.FromSeconds(10));

        Assert.True(limit.ShouldReport(out int first));
        Assert.Equal(0, first);
        Assert.False(limit.ShouldReport(out _));
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(limit.ShouldReport(out _));

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(limit.ShouldReport(out int heldBack));
        Assert.Equal(2, heldBack);
    }
}
