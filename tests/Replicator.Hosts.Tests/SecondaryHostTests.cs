using Replicator.Core.Testing;
using Replicator.Hosts.Links;
using Replicator.Hosts.Storage;
using Replicator.Hosts.Tests.Support;
using Replicator.InMemory;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Tests;

/// <summary>The secondary's decisions, fed by hand: handshake, fencing (I6), the welcome's timing, journal → ack, promotion.</summary>
public class SecondaryHostTests
{
    [Fact]
    public void A_primary_of_this_pair_is_welcomed_with_what_the_node_holds()
    {
        var pair = new SecondaryHarness();

        LinkId link = pair.Connect();

        WelcomeMessage welcome = Assert.Single(pair.SentOf<WelcomeMessage>(link));
        Assert.Equal(NodeRole.Secondary, welcome.Role);
        Assert.Equal(0, welcome.LastCommittedEpoch);
        Assert.Empty(pair.Closed);
    }

    [Fact]
    public void Nothing_but_a_hello_is_taken_from_a_new_connection()
    {
        var pair = new SecondaryHarness();
        var stranger = new LinkId(99);
        pair.Host.OnLinkConnected(stranger, "stranger");

        pair.SendEpoch(stranger, 1, 1);

        Assert.Equal(stranger, Assert.Single(pair.Closed).Link);
        Assert.Empty(pair.Sent);
        Assert.Equal(0, pair.Host.Engine!.BufferedBytes);
    }

    [Fact]
    public void A_primary_whose_large_frame_is_still_arriving_is_alive_and_one_that_stops_sending_is_closed()
    {
        var pair = new SecondaryHarness();
        LinkId primary = pair.Connect();

        // Three timeouts' worth of a frame arriving, no frame ending: alive.
        for (int i = 0; i < 6; i++)
        {
            pair.Time.Advance(pair.Options.HeartbeatTimeout / 2);
            pair.Host.OnFrameArriving(primary);
            pair.Host.OnHeartbeatTick();
        }

        Assert.Empty(pair.Closed);

        // Then nothing arrives for the timeout.
        pair.Time.Advance(pair.Options.HeartbeatTimeout + TimeSpan.FromMilliseconds(1));
        pair.Host.OnHeartbeatTick();
        (LinkId closed, string reason, _) = Assert.Single(pair.Closed);
        Assert.Equal(primary, closed);
        Assert.Equal("heartbeat timeout", reason);
    }

    [Fact]
    public void Bytes_trickling_before_a_hello_earn_a_connection_no_time()
    {
        var pair = new SecondaryHarness();
        pair.Host.OnLinkConnected(new LinkId(7), "trickling");

        pair.Time.Advance(pair.Options.HeartbeatTimeout / 2);
        pair.Host.OnFrameArriving(new LinkId(7));
        pair.Time.Advance(pair.Options.HeartbeatTimeout / 2 + TimeSpan.FromMilliseconds(1));
        pair.Host.OnFrameArriving(new LinkId(7));
        pair.Host.OnHeartbeatTick();

        Assert.Contains("no hello", Assert.Single(pair.Closed).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_connection_that_never_says_hello_is_closed_after_the_heartbeat_timeout()
    {
        var pair = new SecondaryHarness();
        pair.Host.OnLinkConnected(new LinkId(7), "silent");

        pair.Time.Advance(pair.Options.HeartbeatTimeout / 2);
        pair.Host.OnHeartbeatTick();
        Assert.Empty(pair.Closed);
        pair.Time.Advance(pair.Options.HeartbeatTimeout);
        pair.Host.OnHeartbeatTick();

        Assert.Contains("no hello", Assert.Single(pair.Closed).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_primary_of_another_pair_is_refused_and_the_node_carries_on_for_the_right_one()
    {
        var pair = new SecondaryHarness();

        LinkId link = pair.Connect(SecondaryHarness.Identity(pairId: "pair-2"));

        (LinkId closed, string reason, bool fenced) = Assert.Single(pair.Closed);
        Assert.Equal(link, closed);
        Assert.False(fenced);
        Assert.Contains("wrong pair", reason, StringComparison.Ordinal);
        Assert.Empty(pair.Halted);
        Assert.Empty(pair.Sent);

        LinkId right = pair.Connect(SecondaryHarness.Identity());

        Assert.Equal(right, Assert.Single(pair.Sent).Link);
        Assert.Equal(FrameType.Welcome, pair.Sent[0].Type);
    }

    [Theory]
    [InlineData(PlantedBug.None, true)]
    [InlineData(PlantedBug.NoGenerationCheck, false)]
    public void A_promoted_node_fences_its_old_primary_unless_the_check_is_planted_away(PlantedBug plant, bool fenced)
    {
        var pair = new SecondaryHarness(plant);
        Assert.Null(pair.Host.Promote("operator"));
        Assert.Empty(pair.Promotions); // not before the promotion is durable
        pair.RunStorage();
        Assert.Equal([0L], pair.Promotions);
        Assert.Equal(NodeRole.Primary, new NodeStateStore(pair.Directory).Load()!.Role);

        LinkId old = pair.Connect();

        Assert.Equal(fenced, pair.Closed.Any(c => c.Link == old && c.Fenced));
        Assert.Equal(!fenced, pair.SentOf<WelcomeMessage>(old).Any());
    }

    [Fact]
    public void The_acknowledgement_waits_for_the_journal_unless_planted_early()
    {
        foreach ((PlantedBug plant, bool early) in new[] { (PlantedBug.None, false), (PlantedBug.AckBeforeJournalDurable, true) })
        {
            var pair = new SecondaryHarness(plant);
            LinkId link = pair.Connect();

            pair.SendEpoch(link, 1, 1);
            Assert.Equal(early, pair.SentOf<AckMessage>(link).Any());

            pair.RunStorage(1);
            Assert.Equal(1, pair.SentOf<AckMessage>(link).Last().Epoch);
        }
    }

    [Theory]
    [InlineData(PlantedBug.None)]
    [InlineData(PlantedBug.WelcomeBeforeSettled)]
    public void A_new_primary_is_welcomed_only_once_no_epoch_is_half_way_into_the_journal(PlantedBug plant)
    {
        var pair = new SecondaryHarness(plant);
        LinkId first = pair.Connect();
        pair.SendEpoch(first, 1, 1);
        Assert.Equal(1, pair.PendingStorage);
        pair.Host.OnLinkClosed(first, "cable pulled");

        LinkId second = pair.Connect();
        bool welcomedEarly = pair.SentOf<WelcomeMessage>(second).Any();
        pair.RunStorage(1);

        WelcomeMessage welcome = Assert.Single(pair.SentOf<WelcomeMessage>(second));
        Assert.Equal(plant == PlantedBug.WelcomeBeforeSettled, welcomedEarly);
        // Unplanted, the welcome names the checkpoint the journal now holds; planted, one it no longer holds alone.
        Assert.Equal(plant == PlantedBug.WelcomeBeforeSettled ? 0 : 1, welcome.LastCommittedEpoch);
    }

    [Fact]
    public void A_welcome_held_for_the_journal_is_never_sent_once_the_node_is_promoted()
    {
        var pair = new SecondaryHarness();
        LinkId first = pair.Connect();
        pair.SendEpoch(first, 1, 1);
        pair.Host.OnLinkClosed(first, "cable pulled");
        LinkId second = pair.Connect(); // its welcome waits for epoch 1's journal append

        Assert.Null(pair.Host.Promote("the operator asked for failover"));
        pair.RunStorage(int.MaxValue);

        Assert.Empty(pair.SentOf<WelcomeMessage>(second));
        Assert.Contains(pair.Closed, c => c.Link == second && c.Fenced);
    }

    [Fact]
    public void Credit_goes_back_only_to_the_primary_that_spent_it()
    {
        var pair = new SecondaryHarness();
        LinkId first = pair.Connect();
        pair.SendEpoch(first, 1, 1);
        pair.RunStorage(1); // journalled: the apply is queued
        pair.Host.OnLinkClosed(first, "cable pulled");
        LinkId second = pair.Connect();

        pair.RunStorage();

        Assert.Empty(pair.SentOf<CreditMessage>(second));
        Assert.Equal(1, pair.Host.Engine!.LastAppliedEpoch);
    }

    [Fact]
    public void A_promotion_that_cannot_be_recorded_stops_the_node_instead_of_serving()
    {
        var faults = new FailingWrites();
        var pair = new SecondaryHarness(faults: faults);
        faults.FailFrom = NodeStateStore.FileName;

        Assert.Null(pair.Host.Promote("operator"));
        pair.RunStorage();

        Assert.Empty(pair.Promotions);
        string halted = Assert.Single(pair.Halted);
        Assert.Contains(NodeStateStore.FileName, halted, StringComparison.Ordinal);
        Assert.Equal([$"storage failed: {halted}"], pair.Logged("storage failed"));
        Assert.Equal(NodeRole.Secondary, new NodeStateStore(pair.Directory).Load()!.Role);
    }
}
