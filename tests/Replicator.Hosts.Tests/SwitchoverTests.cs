using Replicator.Core.Blocks;
using Replicator.Hosts.Links;
using Replicator.Hosts.Primary;
using Replicator.Hosts.Secondary;
using Replicator.Hosts.Storage;
using Replicator.Hosts.Tests.Support;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using static Replicator.Hosts.Tests.Support.RecordingPrimaryActions;

namespace Replicator.Hosts.Tests;

/// <summary>A planned switchover: the primary's last checkpoint, its handover, and the secondary taking over from exactly there.</summary>
public sealed class SwitchoverTests
{
    [Fact]
    public void The_primary_hands_over_only_after_its_last_checkpoint_is_acknowledged_and_recorded_and_then_takes_no_write()
    {
        var h = new PrimaryHarness();
        LinkId link = h.StartConnected();
        NodeStateStore states = new(h.Directory);
        states.Save(states.Load()! with { PrimaryByPromotion = true });

        h.Host.SwitchOver(7);
        h.Write(1, 0);   // the guest should be quiet; a write that comes anyway is refused, never left behind
        Assert.Equal(new GuestCompleted(1, RequestStatus.IoError), h.Actions.Of<GuestCompleted>().Single());
        SwitchoverMessage handover = HandoverOn(h, link);
        Assert.Empty(h.Actions.Of<SwitchedOver>());
        int acknowledged = h.Actions.Calls.FindIndex(c => c is Sent { Type: FrameType.Switchover });
        Assert.True(acknowledged > h.Actions.Calls.FindIndex(c => c is Sent { Type: FrameType.Checkpoint }));
        NodeState state = states.Load()!;
        Assert.Equal(handover.Epoch, state.AppliedEpoch);
        Assert.False(state.PrimaryByPromotion);   // started as a secondary from now on, it is demoted

        h.Write(2, 0);
        Assert.Equal(new GuestCompleted(2, RequestStatus.IoError), h.Actions.Of<GuestCompleted>().Last());
        Assert.Empty(h.Actions.Of<Issued>());

        h.Host.OnFrame(link, PrimaryHarness.Error("the secondary is being promoted", fenced: true));
        SwitchoverResult result = Assert.Single(h.Actions.Of<SwitchedOver>()).Result;
        Assert.Equal((SwitchoverOutcome.TakenOver, handover.Epoch), (result.Outcome, result.Epoch));
        Assert.True(result.GaveUpPrimaryRole);

        // No generation of its own after the handover, and no attempt to reach the new primary as its secondary.
        Assert.Equal(state.Generations.Current, states.Load()!.Generations.Current);
        Assert.Empty(h.Actions.Of<ReconnectScheduled>());
    }

    [Theory]
    [InlineData(true, SwitchoverOutcome.Refused)]
    [InlineData(false, SwitchoverOutcome.Unconfirmed)]
    public void A_handover_the_secondary_refuses_leaves_the_primary_role_and_one_never_answered_gives_it_up(bool answered, SwitchoverOutcome outcome)
    {
        var h = new PrimaryHarness();
        LinkId link = h.StartConnected();
        h.Host.SwitchOver(7);
        HandoverOn(h, link);

        if (answered)
        {
            h.Host.OnFrame(link, PrimaryHarness.Error("switchover refused: this node is mid-resync", fenced: false));
        }
        else
        {
            h.Host.OnLinkClosed(link, "connection reset");
        }

        SwitchoverResult result = Assert.Single(h.Actions.Of<SwitchedOver>()).Result;
        Assert.Equal(outcome, result.Outcome);
        Assert.Equal(!answered, result.GaveUpPrimaryRole);
    }

    [Fact]
    public void A_switchover_of_a_pair_that_is_not_protected_hands_nothing_over()
    {
        var h = new PrimaryHarness();
        h.StartConnectedThenLose();
        h.Host.SwitchOver(7);

        SwitchoverResult result = Assert.Single(h.Actions.Of<SwitchedOver>()).Result;
        Assert.Equal(SwitchoverOutcome.NotHandedOver, result.Outcome);
        Assert.Contains("not protected", result.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(h.Actions.Of<Sent>(), s => s.Type == FrameType.Switchover);
    }

    [Fact]
    public void A_link_lost_and_back_after_the_last_checkpoint_but_before_the_dirty_log_closed_hands_nothing_over()
    {
        var h = new PrimaryHarness(o => o with { DirtyRegionBytes = 4096, ActivityExtentBytes = 16 * 1024, ActivityLogExtents = 2 });
        LinkId link = h.StartConnected();
        h.Pump(link);
        h.HoldDirtyLog = true;
        h.Host.SwitchOver(7);
        h.Pump(link);               // the last checkpoint is acknowledged; the log's close is still on its way

        // The link drops and comes back (a resync starts) before the log's close lands.
        h.Host.OnLinkClosed(link, "cable pulled");
        h.Host.OnReconnectDue();
        LinkId again = h.Connect();
        h.Host.OnFrame(again, PrimaryHarness.Input(h.Welcome(h.Host.Engine!.LastAcknowledgedEpoch)));
        h.HoldDirtyLog = false;
        foreach (DirtyLogOperation held in h.HeldDirtyLog)
        {
            h.RunDirtyLog(held);
        }

        SwitchoverResult result = Assert.Single(h.Actions.Of<SwitchedOver>()).Result;
        Assert.Equal(SwitchoverOutcome.NotHandedOver, result.Outcome);
        Assert.DoesNotContain(h.Actions.Of<Sent>(), s => s.Type == FrameType.Switchover);
        Assert.False(h.Host.HandedOver);
    }

    [Fact]
    public void The_secondary_takes_over_at_the_handed_over_checkpoint_and_closes_the_link_fenced()
    {
        (SecondaryHarness s, LinkId link) = HandedOverTo(committed: 2, handedOverAt: 2);

        Assert.Equal([2L], s.Promotions);
        Assert.Contains(s.Closed, c => c.Link == link && c.Fenced);
        Assert.Equal(new TakeoverPoint(2, SecondaryHarness.PrimaryGenerations.Current!.Id), new NodeStateStore(s.Directory).Load()!.PromotedFrom);
    }

    [Fact]
    public void A_handover_at_another_checkpoint_than_the_secondary_holds_is_refused_and_nothing_is_promoted()
    {
        (SecondaryHarness s, _) = HandedOverTo(committed: 1, handedOverAt: 3);

        Assert.Empty(s.Promotions);
        (LinkId _, string reason, bool fenced) = Assert.Single(s.Closed);
        Assert.Contains("switchover refused: the primary hands over at checkpoint 3, but this node committed 1", reason, StringComparison.Ordinal);
        Assert.False(fenced);
    }

    /// <summary>A secondary that committed epochs 1..<paramref name="committed"/> is handed the primary role at <paramref name="handedOverAt"/>.</summary>
    private static (SecondaryHarness Secondary, LinkId Link) HandedOverTo(long committed, long handedOverAt)
    {
        var s = new SecondaryHarness();
        LinkId link = s.Connect();
        s.RunStorage();
        for (long epoch = 1; epoch <= committed; epoch++)
        {
            s.SendEpoch(link, epoch, epoch);
        }

        s.RunStorage();
        s.Host.OnInput(link, new SecondaryInput(SecondaryInputKind.Switchover, Epoch: handedOverAt));
        s.RunStorage();
        return (s, link);
    }

    private static SwitchoverMessage HandoverOn(PrimaryHarness h, LinkId link)
    {
        h.Pump(link);
        return (SwitchoverMessage)h.Actions.Of<Sent>().Single(s => s.Link == link && s.Type == FrameType.Switchover).Message;
    }
}
