using Microsoft.Extensions.Time.Testing;
using Replicator.Core.Diagnostics;

namespace Replicator.Hosts.Tests;

public class LogRateLimitTests
{
    [Fact]
    public void One_report_per_interval_goes_through_and_the_next_one_says_how_many_were_held_back()
    {
        var time = new FakeTimeProvider();
        var limit = new LogRateLimit(time, TimeSpan.FromSeconds(10));

        Assert.True(limit.ShouldReport(out int first));
        Assert.Equal(0, first);
        for (int i = 0; i < 1000; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(9));
            Assert.False(limit.ShouldReport(out _));
        }

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(limit.ShouldReport(out int heldBack));
        Assert.Equal(1000, heldBack);
        Assert.False(limit.ShouldReport(out _));
    }
}
