using Replicator.Hosts.Links;
using Replicator.Hosts.Primary;
using Replicator.Hosts.Tests.Support;

namespace Replicator.Hosts.Tests;

/// <summary>Protected is a bound on time: what the status says when acknowledgements stop or credit runs out.</summary>
public sealed class PrimaryHostProtectionTests
{
    private static readonly TimeSpan AckTimeout = TimeSpan.FromMilliseconds(500);

    [Fact]
    public void A_checkpoint_unacknowledged_past_the_bound_shows_as_stalled_with_the_reason_and_protected_again_after_its_ack()
    {
        var h = new PrimaryHarness(o => o with { AckTimeout = AckTimeout });
        LinkId link = h.StartConnected();
        h.Host.OnHeartbeatTick();
        Assert.Equal(new ProtectionReport(PairProtection.Protected, null), h.Host.LastProtection);

        h.Host.RequestCheckpoint(1);
        h.Pump(LinkId.None); // captured and sent; the secondary says nothing
        h.Time.Advance(AckTimeout);
        h.Host.OnHeartbeatTick();
        Assert.Equal(PairProtection.Protected, h.Host.LastProtection.State); // at the bound, not past it

        h.Time.Advance(TimeSpan.FromMilliseconds(1));
        h.Host.OnHeartbeatTick();
        ProtectionReport stalled = h.Host.LastProtection;
        Assert.Equal(PairProtection.Stalled, stalled.State);
        Assert.Contains("checkpoint 1 has waited 501 ms for the secondary's acknowledgement (bound 500 ms)", stalled.Reason, StringComparison.Ordinal);

        h.Host.OnFrame(link, PrimaryHarness.Ack(1));
        h.Host.OnHeartbeatTick();
        Assert.Equal(new ProtectionReport(PairProtection.Protected, null), h.Host.LastProtection);
    }

    [Theory]
    [InlineData(false, "replication is off (--no-replication)")]
    [InlineData(true, "replication is off (promoted with no --peer)")]
    public void With_replication_off_the_status_says_unreplicated_at_once_without_waiting_for_a_tick(bool promoted, string reason)
    {
        var h = new PrimaryHarness(o => o with { Unreplicated = true, RunsPromotedNode = promoted });
        h.Host.Start();

        Assert.Equal(new ProtectionReport(PairProtection.Unreplicated, reason), h.Host.LastProtection);
    }

    [Fact]
    public void A_lost_secondary_is_degraded_with_its_reason_not_stalled()
    {
        var h = new PrimaryHarness(o => o with { AckTimeout = AckTimeout });
        LinkId link = h.StartConnected();
        h.Host.RequestCheckpoint(1);
        h.Pump(LinkId.None);
        h.Host.OnLinkClosed(link, "cable pulled");
        h.Time.Advance(AckTimeout * 4);
        h.Host.OnHeartbeatTick();

        Assert.Equal(PairProtection.Degraded, h.Host.LastProtection.State);
        Assert.Contains("cable pulled", h.Host.LastProtection.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Guest_writes_waiting_for_credit_show_as_credit_exhausted()
    {
        // The smallest buffer a secondary may offer (two of the largest records); the secondary
        // returns no credit, so the third largest write waits.
        var h = new PrimaryHarness(o => o with { AckTimeout = TimeSpan.FromHours(1) });
        h.StartConnected(bufferBytes: 2L * (PrimaryHarness.MaxRequestBytes + Core.Epochs.MirrorRecord.RecordOverheadBytes));
        for (int i = 0; i < 3; i++)
        {
            h.Host.Submit(i + 1, Core.Blocks.BlockRequest.Write((long)i * PrimaryHarness.MaxRequestBytes, PrimaryHarness.MaxRequestBytes), new byte[PrimaryHarness.MaxRequestBytes]);
        }

        h.Pump(LinkId.None);
        h.Host.OnHeartbeatTick();

        Assert.Equal(PairProtection.CreditExhausted, h.Host.LastProtection.State);
        Assert.Contains("guest writes wait for credit", h.Host.LastProtection.Reason, StringComparison.Ordinal);
    }
}
