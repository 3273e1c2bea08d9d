using Replicator.Hosts.Links;
using Replicator.Hosts.Tests.Support;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Tests;

/// <summary>A clean stop of the secondary: nothing committed stays only in the journal.</summary>
public class SecondaryHostStopTests
{
    [Fact]
    public void A_stop_closes_every_link_and_is_drained_only_once_every_committed_epoch_is_applied()
    {
        var pair = new SecondaryHarness();
        LinkId link = pair.Connect();
        pair.SendEpoch(link, 1, 1);
        pair.RunStorage(1); // journalled: committed and acknowledged, not yet applied
        Assert.Single(pair.SentOf<AckMessage>(link));
        Assert.Equal(0, pair.Host.Engine!.LastAppliedEpoch);

        pair.Host.BeginStop();

        Assert.Contains(pair.Closed, c => c.Link == link && c.Reason.Contains("stopping", StringComparison.Ordinal));
        Assert.False(pair.Host.IsDrained);
        pair.RunStorage();
        Assert.True(pair.Host.IsDrained);
        Assert.Equal(1, pair.Host.Engine.LastAppliedEpoch);

        // Nobody is followed any more: a new link is closed at once.
        LinkId late = pair.Connect();
        Assert.Contains(pair.Closed, c => c.Link == late);
        Assert.Empty(pair.SentOf<WelcomeMessage>(late));
    }

    [Fact]
    public void Without_a_stop_nothing_counts_as_drained()
    {
        var pair = new SecondaryHarness();
        Assert.False(pair.Host.IsDrained);
    }
}
