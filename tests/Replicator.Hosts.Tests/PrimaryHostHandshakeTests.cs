using Replicator.Core.Primary;
using Replicator.Hosts.Links;
using Replicator.Hosts.Primary;
using Replicator.Hosts.Storage;
using Replicator.Hosts.Tests.Support;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using static Replicator.Hosts.Tests.Support.RecordingPrimaryActions;

namespace Replicator.Hosts.Tests;

/// <summary>The start and the handshake: what the host checks, and what it does with each outcome.</summary>
public sealed class PrimaryHostHandshakeTests
{
    [Fact]
    public void Start_connects_and_says_hello_with_the_pair_s_identity()
    {
        var h = new PrimaryHarness();
        h.Host.Start();
        Assert.Equal(PrimaryHarness.HeartbeatTimeout, Assert.Single(h.Actions.Of<Connected>()).Timeout);

        LinkId link = h.Connect();
        Sent hello = Assert.Single(h.Actions.Of<Sent>());
        Assert.Equal((link, FrameType.Hello), (hello.Link, hello.Type));
        PairIdentity identity = Assert.IsType<HelloMessage>(hello.Message).Identity;
        Assert.Equal(("pair-1", PrimaryHarness.ImageBytes, PrimaryHarness.MaxRequestBytes), (identity.PairId, identity.ImageBytes, identity.MaxRequestBytes));
    }

    [Fact]
    public void An_accepted_welcome_starts_the_engine_after_the_record_says_the_images_are_not_known_equal()
    {
        var h = new PrimaryHarness();
        LinkId link = h.StartConnected();

        Assert.Equal(PrimaryStart.Running, Assert.Single(h.Actions.Of<PrimaryStart>()));
        Assert.Equal(link, h.Host.CurrentLink);
        Assert.Equal(PrimaryLinkState.Connected, h.Host.LinkState);
        Assert.Equal(1, h.Host.Engine!.CurrentEpoch);
        Assert.Equal(-1, new NodeStateStore(h.Directory).Load()!.AppliedEpoch);
    }

    [Theory]
    [InlineData("pair-2", NodeRole.Secondary, false, PrimaryStartOutcome.Refused, "wrong pair")]
    [InlineData("pair-1", NodeRole.Primary, false, PrimaryStartOutcome.Fenced, "it was promoted")]
    [InlineData("pair-1", NodeRole.Secondary, true, PrimaryStartOutcome.Fenced, "holds newer data than this primary")]
    public void A_welcome_of_another_pair_or_a_promoted_node_refuses_the_start_and_is_never_retried(string pairId, NodeRole role, bool ahead, PrimaryStartOutcome outcome, string reason)
    {
        var h = new PrimaryHarness();
        h.Host.Start();
        LinkId link = h.Connect();
        h.Host.OnFrame(link, PrimaryHarness.Input(h.Welcome(pairId: pairId, role: role, generations: ahead ? h.AheadGenerations() : null)));

        PrimaryStart start = Assert.Single(h.Actions.Of<PrimaryStart>());
        Assert.Equal(outcome, start.Outcome);
        Assert.Contains(reason, start.Reason, StringComparison.Ordinal);
        Assert.Equal(link, Assert.Single(h.Actions.Of<Closed>()).Link);
        Assert.Null(h.Host.Engine);

        h.Host.OnLinkClosed(link, "closed");
        h.Host.OnReconnectDue();
        h.Time.Advance(TimeSpan.FromMinutes(1));
        h.Host.OnHeartbeatTick();
        Assert.Single(h.Actions.Of<Connected>());
        Assert.Empty(h.Actions.Of<ReconnectScheduled>());
    }

    [Fact]
    public void A_refusal_from_the_secondary_says_whether_it_fences()
    {
        var h = new PrimaryHarness();
        h.Host.Start();
        h.Host.OnFrame(h.Connect(), PrimaryHarness.Error("stale generation: a failover happened", fenced: true));

        PrimaryStart start = Assert.Single(h.Actions.Of<PrimaryStart>());
        Assert.Equal(PrimaryStartOutcome.Fenced, start.Outcome);
        Assert.Contains("stale generation", start.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_secondary_holding_another_checkpoint_than_the_record_is_synced_whole_never_taken_as_equal()
    {
        var h = new PrimaryHarness();
        new NodeStateStore(h.Directory).Save(new NodeState { PairId = "pair-1", Role = NodeRole.Primary, AppliedEpoch = 7 });
        h.Host.Start();
        LinkId link = h.Connect();
        h.Host.OnFrame(link, PrimaryHarness.Input(h.Welcome(epoch: 5, sequence: 50)));

        Assert.Equal(PrimaryStart.Running, Assert.Single(h.Actions.Of<PrimaryStart>()));
        ResyncStartMessage start = Assert.Single(h.Actions.Of<Sent>().Select(s => s.Message).OfType<ResyncStartMessage>());
        Assert.True(start.WholeImage);
        Assert.Equal(PrimaryHarness.ImageBytes, start.Bytes);
        Assert.True(start.FirstEpoch > 5 && start.FirstSequence > 50);
        Assert.Equal(h.Host.Generations.Current, start.Generations.Current);
        Assert.Equal(PrimaryReplication.Resyncing, h.Host.Engine!.Replication);
        Assert.Equal(-1, new NodeStateStore(h.Directory).Load()!.AppliedEpoch);
    }

    [Fact]
    public void A_state_directory_of_another_pair_is_an_error()
    {
        var h = new PrimaryHarness();
        new NodeStateStore(h.Directory).Save(new NodeState { PairId = "pair-9", Role = NodeRole.Primary });
        Assert.Throws<InvalidDataException>(h.Host.Start);
        Assert.Empty(h.Actions.Calls);
    }

    [Fact]
    public void An_unreachable_secondary_at_start_fails_the_start()
    {
        var h = new PrimaryHarness();
        h.Host.Start();
        h.Host.OnConnectFailed("connection refused");

        PrimaryStart start = Assert.Single(h.Actions.Of<PrimaryStart>());
        Assert.Equal(PrimaryStartOutcome.Unreachable, start.Outcome);
        Assert.Contains("connection refused", start.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_hello_unanswered_for_the_heartbeat_timeout_fails_the_start()
    {
        var h = new PrimaryHarness();
        h.Host.Start();
        LinkId link = h.Connect();
        h.Time.Advance(PrimaryHarness.HeartbeatTimeout);
        h.Host.OnHeartbeatTick();
        Assert.Empty(h.Actions.Of<PrimaryStart>());

        h.Time.Advance(TimeSpan.FromMilliseconds(1));
        h.Host.OnHeartbeatTick();
        Assert.Equal(PrimaryStartOutcome.Unreachable, Assert.Single(h.Actions.Of<PrimaryStart>()).Outcome);
        Assert.Equal(link, Assert.Single(h.Actions.Of<Closed>()).Link);
    }

    [Fact]
    public void A_frame_out_of_turn_during_the_handshake_refuses_the_start()
    {
        var h = new PrimaryHarness();
        h.Host.Start();
        LinkId link = h.Connect();
        h.Host.OnFrame(link, PrimaryHarness.Ack(1));

        PrimaryStart start = Assert.Single(h.Actions.Of<PrimaryStart>());
        Assert.Equal(PrimaryStartOutcome.Refused, start.Outcome);
        Assert.Contains("expected Welcome, got Ack", start.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void With_replication_off_the_engine_runs_degraded_and_no_link_is_opened()
    {
        var h = new PrimaryHarness(o => o with { Unreplicated = true });
        h.Host.Start();
        h.Write(1, 0);

        Assert.Equal(PrimaryStart.Running, Assert.Single(h.Actions.Of<PrimaryStart>()));
        Assert.Equal(PrimaryHost.UnreplicatedReason, h.Host.Engine!.DegradedReason);
        Assert.Equal(PrimaryLinkState.Unreplicated, h.Host.LinkState);
        Assert.Single(h.Actions.Of<Issued>());
        Assert.Empty(h.Actions.Of<Connected>());
        Assert.Empty(h.Actions.Of<ReconnectScheduled>());
        Assert.Equal(-1, new NodeStateStore(h.Directory).Load()!.AppliedEpoch);
    }
}
