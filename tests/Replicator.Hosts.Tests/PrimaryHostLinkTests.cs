using Replicator.Core.Primary;
using Replicator.Hosts.Links;
using Replicator.Hosts.Primary;
using Replicator.Hosts.Tests.Support;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using static Replicator.Hosts.Tests.Support.RecordingPrimaryActions;

namespace Replicator.Hosts.Tests;

/// <summary>The stream's link: the write path, heartbeats, losing the link, stale frames, fencing, reconnect backoff.</summary>
public sealed class PrimaryHostLinkTests
{
    [Fact]
    public void A_guest_write_is_issued_locally_then_mirrored_on_the_current_link()
    {
        var h = new PrimaryHarness();
        LinkId link = h.StartConnected();
        h.Write(1, 8192);
        Issued issued = Assert.Single(h.Actions.Of<Issued>());
        Assert.Empty(h.Actions.Of<Mirrored>());

        h.Host.OnLocalCompleted(issued.RequestId, issued.Request, null);
        Mirrored mirrored = Assert.Single(h.Actions.Of<Mirrored>());
        Assert.Equal((link, 1L, 8192L), (mirrored.Link, mirrored.Epoch, mirrored.Request.Offset));
        Assert.Contains(new GuestCompleted(1, Core.Blocks.RequestStatus.Ok), h.Actions.Calls);
    }

    [Fact]
    public void Heartbeats_go_out_while_frames_arrive_and_a_silent_secondary_is_lost()
    {
        var h = new PrimaryHarness();
        LinkId link = h.StartConnected();
        h.Time.Advance(TimeSpan.FromSeconds(1.5));
        h.Host.OnHeartbeatTick();
        Assert.Equal(FrameType.Heartbeat, Assert.Single(h.Actions.Of<Sent>(), s => s.Type != FrameType.Hello).Type);

        h.Host.OnFrame(link, new PrimaryInput(PrimaryInputKind.Heartbeat, FrameType.Heartbeat));
        h.Time.Advance(TimeSpan.FromSeconds(1.5));
        h.Host.OnHeartbeatTick();
        Assert.Empty(h.Actions.Of<Closed>());

        h.Time.Advance(TimeSpan.FromSeconds(1));
        h.Host.OnHeartbeatTick();
        Closed closed = Assert.Single(h.Actions.Of<Closed>());
        Assert.Equal(link, closed.Link);
        Assert.Contains("no frame from the secondary for 2000 ms", closed.Reason, StringComparison.Ordinal);
        Assert.Equal(LinkId.None, h.Host.CurrentLink);
        Assert.Equal(PrimaryReplication.Degraded, h.Host.Engine!.Replication);
        Assert.Equal(PrimaryReplication.Degraded, Assert.Single(h.Actions.Of<Replication>()).State);
        Assert.Equal(PrimaryHarness.ReconnectDelay, Assert.Single(h.Actions.Of<ReconnectScheduled>()).Delay);
    }

    [Fact]
    public void Frames_and_closes_of_a_retired_link_are_dropped()
    {
        var h = new PrimaryHarness();
        LinkId first = h.StartConnected();
        h.Host.RequestCheckpoint(1);
        h.Pump(LinkId.None);   // captured, but the acknowledgement never comes on the first link
        h.Host.OnLinkClosed(first, "reset by peer");
        LinkId second = h.Reconnect();
        Assert.Equal(PrimaryReplication.Resyncing, h.Host.Engine!.Replication);
        h.Forget();

        h.Host.OnFrame(first, PrimaryHarness.Ack(1));
        h.Host.OnFrame(first, PrimaryHarness.Error("late", fenced: true));
        h.Host.OnLinkClosed(first, "reset by peer");

        Assert.Empty(h.Actions.Calls);
        Assert.Equal(0, h.Host.Engine.LastAcknowledgedEpoch);
        Assert.Equal(second, h.Host.CurrentLink);
        Assert.Null(h.Host.FencedReason);
    }

    [Fact]
    public void A_damaged_frame_closes_the_link_with_the_reason_and_degrades()
    {
        var h = new PrimaryHarness();
        LinkId link = h.StartConnected();
        h.Host.OnFrame(link, PrimaryInput.Malformed("frame 9: bad checksum"));

        Closed closed = Assert.Single(h.Actions.Of<Closed>());
        Assert.Equal((link, "frame 9: bad checksum"), (closed.Link, closed.Reason));
        Assert.Equal(PrimaryReplication.Degraded, h.Host.Engine!.Replication);
        Assert.Single(h.Actions.Of<ReconnectScheduled>());
    }

    [Fact]
    public void A_fencing_error_on_the_stream_fences_and_the_primary_never_reconnects()
    {
        var h = new PrimaryHarness();
        LinkId link = h.StartConnected();
        h.Host.OnFrame(link, PrimaryHarness.Error("promoted", fenced: true));

        Assert.Contains("will not follow this primary again: promoted", Assert.Single(h.Actions.Of<FencedOff>()).Reason, StringComparison.Ordinal);
        Assert.Equal(PrimaryReplication.Degraded, h.Host.Engine!.Replication);
        Assert.Empty(h.Actions.Of<ReconnectScheduled>());
        h.Host.OnReconnectDue();
        Assert.Empty(h.Actions.Of<Connected>().Skip(1));
        Assert.Equal(PrimaryLinkState.Fenced, h.Host.LinkState);
    }

    [Fact]
    public void A_secondary_promoted_meanwhile_fences_at_the_reconnect_and_attempts_stop()
    {
        var h = new PrimaryHarness();
        h.StartConnectedThenLose();
        h.Host.OnReconnectDue();
        h.Host.OnFrame(h.Connect(), PrimaryHarness.Error("stale generation: the peer is at generation 0, this node already at 1", fenced: true));

        Assert.Contains("stale generation", Assert.Single(h.Actions.Of<FencedOff>()).Reason, StringComparison.Ordinal);
        Assert.Single(h.Actions.Of<ReconnectScheduled>());
        h.Host.OnReconnectDue();
        h.Time.Advance(TimeSpan.FromMinutes(1));
        h.Host.OnHeartbeatTick();
        Assert.Equal(2, h.Actions.Of<Connected>().Count());
        Assert.Equal(1, h.Host.ReconnectAttempts);
        Assert.Equal(PrimaryReplication.Degraded, h.Host.Engine!.Replication);
    }

    [Fact]
    public void A_promoted_node_s_welcome_fences_at_the_reconnect()
    {
        var h = new PrimaryHarness();
        h.StartConnectedThenLose();
        h.Host.OnReconnectDue();
        LinkId next = h.Connect();
        h.Host.OnFrame(next, PrimaryHarness.Input(h.Welcome(role: NodeRole.Primary, generations: h.AheadGenerations())));

        Assert.Contains("it was promoted", Assert.Single(h.Actions.Of<FencedOff>()).Reason, StringComparison.Ordinal);
        Assert.Equal(next, h.Actions.Of<Closed>().Last().Link);
        Assert.Single(h.Actions.Of<ReconnectScheduled>());
    }

    [Fact]
    public void An_incompatible_secondary_at_a_reconnect_is_retried_with_backoff()
    {
        var h = new PrimaryHarness();
        h.StartConnectedThenLose();
        h.Host.OnReconnectDue();
        h.Host.OnFrame(h.Connect(), PrimaryHarness.Input(h.Welcome(pairId: "pair-2")));

        Assert.Empty(h.Actions.Of<FencedOff>());
        Assert.Equal(
            [PrimaryHarness.ReconnectDelay, PrimaryHarness.ReconnectDelay * 2],
            h.Actions.Of<ReconnectScheduled>().Select(r => r.Delay));
    }

    [Fact]
    public void The_reconnect_delay_doubles_up_to_the_bound_and_starts_afresh_once_protected_again()
    {
        var h = new PrimaryHarness();
        h.StartConnectedThenLose();
        for (int attempt = 0; attempt < 5; attempt++)
        {
            h.Host.OnReconnectDue();
            h.Host.OnConnectFailed("connection refused");
        }

        TimeSpan d = PrimaryHarness.ReconnectDelay;
        Assert.Equal([d, d * 2, d * 4, d * 8, d * 8, d * 8], h.Actions.Of<ReconnectScheduled>().Select(r => r.Delay));
        Assert.Equal(6, h.Host.ReconnectAttempts);

        LinkId next = h.Reconnect();
        Assert.Equal(PrimaryReplication.Resyncing, h.Actions.Of<Replication>().Last().State);
        h.Host.RequestCheckpoint(1);
        h.Pump(next);
        Assert.Equal(PrimaryReplication.Protected, h.Actions.Of<Replication>().Last().State);
        Assert.Equal(0, h.Host.ReconnectAttempts);

        h.Forget();
        h.Host.OnLinkClosed(next, "cable pulled again");
        Assert.Equal(d, Assert.Single(h.Actions.Of<ReconnectScheduled>()).Delay);
    }

    [Fact]
    public void A_secondary_holding_a_checkpoint_this_primary_never_sent_is_synced_whole()
    {
        var h = new PrimaryHarness();
        h.StartConnectedThenLose();
        h.Host.OnReconnectDue();
        LinkId next = h.Connect();
        h.Host.OnFrame(next, PrimaryHarness.Input(h.Welcome(epoch: 40, sequence: 400)));

        // Its data is this primary's (the generations say so) but its epochs say nothing of what it lacks.
        Assert.Equal(next, h.Host.CurrentLink);
        ResyncStartMessage start = Assert.Single(h.Actions.Of<Sent>().Select(s => s.Message).OfType<ResyncStartMessage>());
        Assert.True(start.WholeImage);
        Assert.Equal(41, start.FirstEpoch);
        Assert.Equal(401, start.FirstSequence);
        Assert.Equal(PrimaryReplication.Resyncing, h.Host.Engine!.Replication);
    }

    [Fact]
    public void With_reconnection_off_a_lost_secondary_stays_lost()
    {
        var h = new PrimaryHarness(o => o with { ReconnectDelay = TimeSpan.Zero });
        h.StartConnectedThenLose();

        Assert.Empty(h.Actions.Of<ReconnectScheduled>());
        Assert.Equal(PrimaryLinkState.LostForGood, h.Host.LinkState);
    }

    [Fact]
    public void A_stopping_host_opens_no_new_link()
    {
        var h = new PrimaryHarness();
        h.StartConnectedThenLose();
        h.Host.Stop();
        h.Host.OnReconnectDue();

        Assert.Single(h.Actions.Of<Connected>());
    }
}
