using Replicator.Hosts.Links;
using Replicator.Hosts.Secondary;
using Replicator.Hosts.Tests.Support;
using Replicator.Hosts.Witness;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;
using Replicator.Protocol.Witness;

namespace Replicator.Hosts.Tests;

/// <summary>
/// Automatic failover on the secondary: with a witness only on its vote, into exactly the generation
/// the witness recorded; without one only after the fence command succeeded; and the heartbeat
/// probe echoed at once, which is the promise a primary's lease rests on.
/// </summary>
public sealed class SecondaryHostWitnessTests
{
    private static readonly LinkId WitnessLink = new(1000);

    /// <param name="restartOf">The state directory of a node that ran before (a restart).</param>
    private static SecondaryHarness WithWitness(string? fence = null, SecondaryHarness? restartOf = null) => new(directory: restartOf?.Directory, configure: o => o with
    {
        AutoFailover = true,
        FenceCommand = fence,
        Witness = new WitnessSessionOptions { Address = "witness:7800", PairId = o.PairId, Timeout = TimeSpan.FromSeconds(30) },
    });

    /// <summary>A primary that followed, then went silent for longer than the heartbeat timeout.</summary>
    private static void PrimaryGoesSilent(SecondaryHarness h)
    {
        LinkId primary = h.Connect();
        h.SendEpoch(primary, 1, 1);
        h.RunStorage();
        h.Host.OnLinkClosed(primary, "primary died");
        h.Time.Advance(h.Options.HeartbeatTimeout + TimeSpan.FromMilliseconds(1));
    }

    private static void ConnectWitness(SecondaryHarness h)
    {
        h.Host.OnHeartbeatTick();
        Assert.Equal(1, h.WitnessConnects);
        h.Host.OnWitnessConnected(WitnessLink);
    }

    /// <summary>The witness reached, then the primary silent past the timeout: the proposal is recorded, then the vote asked.</summary>
    private static void AskVoteAfterSilence(SecondaryHarness h)
    {
        ConnectWitness(h);
        PrimaryGoesSilent(h);
        h.Host.OnHeartbeatTick();
        h.RunStorage(); // the proposal recorded before it is asked
    }

    private static WitnessRequestMessage LastAsked(SecondaryHarness h) => h.SentOf<WitnessRequestMessage>(WitnessLink).Last();

    private static void Answer(SecondaryHarness h, WitnessRequestMessage request, WitnessVerdict verdict, string? reason = null) =>
        h.Host.OnInput(WitnessLink, new SecondaryInput(SecondaryInputKind.WitnessAnswer, WitnessAnswer: new WitnessAnswerMessage
        {
            Kind = request.Kind,
            Verdict = verdict,
            SentAt = request.SentAt,
            Reason = reason,
            PairGenerations = request.Generations,
        }));

    [Fact]
    public void The_secondary_promotes_only_on_the_witness_s_vote_and_into_the_generation_the_witness_recorded()
    {
        var h = WithWitness();
        AskVoteAfterSilence(h);
        WitnessRequestMessage vote = LastAsked(h);
        Assert.Equal(WitnessRequestKind.Vote, vote.Kind);
        Assert.NotNull(vote.Proposed);
        Assert.Empty(h.Promotions);

        Answer(h, vote, WitnessVerdict.Refused, "the primary's lease runs for another 300 ms");
        h.RunStorage();
        Assert.Empty(h.Promotions);

        // Asked again later, with the very same proposal.
        h.Time.Advance(TimeSpan.FromMilliseconds(300));
        h.Host.OnHeartbeatTick();
        WitnessRequestMessage again = LastAsked(h);
        Assert.Equal(vote.Proposed, again.Proposed);
        Answer(h, again, WitnessVerdict.Granted);
        h.RunStorage();

        Assert.Equal([1L], h.Promotions);
        Assert.Equal(vote.Proposed, h.Host.Store!.State.Generations.Current);
        Assert.Equal(SecondaryHarness.PrimaryGenerations.Current, h.Host.Store!.State.Generations.History[0]);
    }

    [Fact]
    public void A_node_the_pair_s_data_moved_on_without_never_promotes_itself()
    {
        var h = WithWitness();
        AskVoteAfterSilence(h);
        Answer(h, LastAsked(h), WitnessVerdict.Superseded, "the pair's writer went on without this node");
        int asked = h.SentOf<WitnessRequestMessage>(WitnessLink).Count(r => r.Kind == WitnessRequestKind.Vote);

        h.Time.Advance(TimeSpan.FromSeconds(5));
        h.Host.OnHeartbeatTick();
        h.RunStorage();
        Assert.Empty(h.Promotions);
        Assert.Equal(asked, h.SentOf<WitnessRequestMessage>(WitnessLink).Count(r => r.Kind == WitnessRequestKind.Vote));
        Assert.Contains("went on without this node", h.Host.Status.AutoFailoverRefused, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_the_witness_reached_no_promotion_happens()
    {
        var h = WithWitness();
        PrimaryGoesSilent(h);
        h.Host.OnWitnessConnectFailed("connection refused");
        h.Time.Advance(TimeSpan.FromSeconds(10));
        h.Host.OnHeartbeatTick();
        h.RunStorage();
        Assert.Empty(h.Promotions);
    }

    [Fact]
    public void A_vote_is_not_asked_for_by_a_node_that_could_not_take_over()
    {
        var h = new SecondaryHarness(blank: true, configure: o => o with
        {
            AutoFailover = true,
            Witness = new WitnessSessionOptions { Address = "witness:7800", PairId = o.PairId },
        });
        ConnectWitness(h);
        LinkId primary = h.Connect(generations: SecondaryHarness.PrimaryGenerations);
        h.Host.OnLinkClosed(primary, "primary died");
        h.Time.Advance(TimeSpan.FromSeconds(5));
        h.Host.OnHeartbeatTick();
        Assert.DoesNotContain(h.SentOf<WitnessRequestMessage>(WitnessLink), r => r.Kind == WitnessRequestKind.Vote);
    }

    [Fact]
    public void Without_a_witness_the_fence_command_runs_first_and_only_its_success_promotes()
    {
        var h = new SecondaryHarness(configure: o => o with { AutoFailover = true, FenceCommand = "stonith --off old-primary" });
        PrimaryGoesSilent(h);
        h.Host.OnHeartbeatTick();
        FenceRequest fence = Assert.Single(h.Fences);
        Assert.Equal(("stonith --off old-primary", "pair-1", "peer 1"), (fence.Command, fence.PairId, fence.Peer));
        Assert.Equal(SecondaryHarness.PrimaryGenerations.Current!.Id.ToString("x16", System.Globalization.CultureInfo.InvariantCulture), fence.Generation);

        // It failed: no promotion; it is run again only after a heartbeat timeout.
        h.Host.OnFenceCompleted(false, "exit 1: no such device");
        h.Host.OnHeartbeatTick();
        h.RunStorage();
        Assert.Empty(h.Promotions);
        Assert.Single(h.Fences);
        h.Time.Advance(h.Options.HeartbeatTimeout);
        h.Host.OnHeartbeatTick();
        Assert.Equal(2, h.Fences.Count);

        h.Host.OnFenceCompleted(true, "exit 0: powered off");
        h.RunStorage();
        Assert.Equal([1L], h.Promotions);
    }

    [Fact]
    public void A_primary_s_probe_is_echoed_at_once_with_the_secondary_s_promise()
    {
        var h = new SecondaryHarness();
        LinkId primary = h.Connect();
        h.RunStorage();
        h.Host.OnInput(primary, new SecondaryInput(SecondaryInputKind.Heartbeat, Probe: 12345));
        HeartbeatMessage echo = h.SentOf<HeartbeatMessage>(primary).Last();
        Assert.Equal(12345, echo.Probe);
        Assert.Equal((int)h.Options.HeartbeatTimeout.TotalMilliseconds, echo.PromiseMilliseconds);
    }

    [Fact]
    public void A_primary_that_comes_back_while_the_vote_is_asked_is_refused_and_the_granted_vote_promotes()
    {
        var h = WithWitness();
        AskVoteAfterSilence(h);
        WitnessRequestMessage vote = LastAsked(h);

        // The old primary reconnects while the vote is on its way: were it followed, it could
        // acknowledge writes on this node's heartbeats after the witness recorded the promotion.
        LinkId back = h.Connect();
        Assert.Contains(h.Closed, c => c.Link == back && c.Reason.Contains("follows no primary until the witness answers", StringComparison.Ordinal));
        Answer(h, vote, WitnessVerdict.Granted);
        h.RunStorage();

        Assert.Equal([1L], h.Promotions);
    }

    [Fact]
    public void A_vote_asked_before_a_restart_is_asked_again_with_the_same_proposal_before_any_primary_is_followed()
    {
        var h = WithWitness();
        AskVoteAfterSilence(h);
        WitnessRequestMessage asked = LastAsked(h);
        Assert.Equal(WitnessRequestKind.Vote, asked.Kind);

        // The process dies with the question unanswered (the witness may have granted it).
        SecondaryHarness restarted = WithWitness(restartOf: h);
        Assert.Single(restarted.Logged("asks again, and follows no primary until the witness answers"));
        LinkId primary = restarted.Connect();
        Assert.Contains(restarted.Closed, c => c.Link == primary && c.Reason.Contains("follows no primary until the witness answers", StringComparison.Ordinal));

        ConnectWitness(restarted);
        WitnessRequestMessage again = LastAsked(restarted);
        Assert.Equal((WitnessRequestKind.Vote, asked.Proposed), (again.Kind, again.Proposed));
        Answer(restarted, again, WitnessVerdict.Granted);
        restarted.RunStorage();

        Assert.Single(restarted.Promotions);
        Assert.Equal(asked.Proposed, restarted.Host.Store!.State.Generations.Current);
        Assert.Null(restarted.Host.Store.State.ProposedPromotion);
    }

    [Fact]
    public void A_node_restarted_without_the_witness_it_asked_drops_the_question_and_follows_a_primary_again()
    {
        var h = WithWitness();
        AskVoteAfterSilence(h);
        Assert.NotNull(h.Host.Store!.State.ProposedPromotion);

        var restarted = new SecondaryHarness(directory: h.Directory);
        restarted.RunStorage();
        Assert.Single(restarted.Logged("the question is dropped"));
        Assert.Null(restarted.Host.Store!.State.ProposedPromotion);
        LinkId primary = restarted.Connect();
        Assert.DoesNotContain(restarted.Closed, c => c.Link == primary);
    }

    [Fact]
    public void A_refused_vote_lets_the_primary_back_and_following_it_drops_the_proposal_from_the_record()
    {
        var h = WithWitness();
        AskVoteAfterSilence(h);
        Assert.NotNull(h.Host.Store!.State.ProposedPromotion);
        Answer(h, LastAsked(h), WitnessVerdict.Refused, "the primary's lease runs for another 300 ms");

        LinkId back = h.Connect();
        h.RunStorage();

        Assert.DoesNotContain(h.Closed, c => c.Link == back);
        Assert.Null(h.Host.Store.State.ProposedPromotion);
        Assert.Empty(h.Promotions);
    }

    [Fact]
    public void An_operator_s_failover_goes_to_the_witness_and_is_refused_with_its_reason_or_promotes_on_its_vote()
    {
        var h = new SecondaryHarness(configure: o => o with
        {
            Witness = new WitnessSessionOptions { Address = "witness:7800", PairId = o.PairId, Timeout = TimeSpan.FromSeconds(30) },
        });

        // A primary that is connected is alive: no vote is asked for it.
        LinkId primary = h.Connect();
        Assert.Contains("is connected and heartbeating", h.Host.Promote("the operator asked"), StringComparison.Ordinal);

        // Unreached, the witness cannot vote: the operator is told so at once.
        h.Host.OnLinkClosed(primary, "primary cut off");
        Assert.Contains("is not reached", h.Host.Promote("the operator asked"), StringComparison.Ordinal);

        ConnectWitness(h);
        Assert.Null(h.Host.Promote("the operator asked"));
        h.RunStorage();
        WitnessRequestMessage vote = LastAsked(h);
        Assert.Equal(WitnessRequestKind.Vote, vote.Kind);
        Answer(h, vote, WitnessVerdict.Refused, "the primary's lease runs for another 900 ms");
        Assert.Contains("refused the failover: the primary's lease runs", Assert.Single(h.PromotionsRefused), StringComparison.Ordinal);
        Assert.Empty(h.Promotions);

        Assert.Null(h.Host.Promote("the operator asked"));
        WitnessRequestMessage again = LastAsked(h);
        Assert.Equal(vote.Proposed, again.Proposed);
        Answer(h, again, WitnessVerdict.Granted);
        h.RunStorage();
        Assert.Single(h.Promotions);
        Assert.Equal(vote.Proposed, h.Host.Store!.State.Generations.Current);
    }
}
