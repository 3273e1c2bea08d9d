using Replicator.Hosts.Links;
using Replicator.Hosts.Witness;
using Replicator.InMemory;
using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;
using Replicator.Protocol.Witness;

namespace Replicator.Hosts.Tests.Witness;

/// <summary>
/// The witness's rules (I6): one promotion per generation, never while a primary's lease may run,
/// never for a node the pair's writer left behind; every vote durable before it is answered.
/// </summary>
public sealed class WitnessHostTests
{
    [Fact]
    public void A_primary_s_lease_holds_the_vote_back_until_it_has_run_out()
    {
        var w = new WitnessHarness();
        w.PastStartHold();
        LinkId primary = w.Connect();
        LinkId secondary = w.Connect();

        Assert.Equal(WitnessVerdict.Granted, w.Lease(primary, WitnessHarness.Created).Verdict);
        w.Time.Advance(WitnessHarness.LeaseLength);
        WitnessAnswerMessage early = w.Vote(secondary, WitnessHarness.Created, WitnessHarness.Promotion(0x2222));
        Assert.Equal(WitnessVerdict.Refused, early.Verdict);
        Assert.Contains("lease runs", early.Reason, StringComparison.Ordinal);

        // The lease is held for a tenth more than the primary counts on it: clocks run at different rates.
        w.Time.Advance(WitnessHarness.LeaseLength * 0.11);
        Assert.Equal(WitnessVerdict.Granted, w.Vote(secondary, WitnessHarness.Created, WitnessHarness.Promotion(0x2222)).Verdict);
        Assert.Equal(1, w.Host.VotesGranted);
    }

    [Fact]
    public void Once_a_vote_is_granted_the_old_generation_never_gets_a_lease_again_not_even_from_a_restarted_witness()
    {
        var w = new WitnessHarness();
        w.PastStartHold();
        LinkId primary = w.Connect();
        w.Lease(primary, WitnessHarness.Created);
        w.Time.Advance(WitnessHarness.LeaseLength * 2);
        Assert.Equal(WitnessVerdict.Granted, w.Vote(w.Connect(), WitnessHarness.Created, WitnessHarness.Promotion(0x2222)).Verdict);

        WitnessAnswerMessage late = w.Lease(primary, WitnessHarness.Created);
        Assert.Equal(WitnessVerdict.Superseded, late.Verdict);
        Assert.Contains("taken over", late.Reason, StringComparison.Ordinal);

        // The old primary went on alone meanwhile (a generation descending from the one voted away): superseded too.
        DataGenerations wentOn = WitnessHarness.Created.Begin(new GenerationMark { Id = 0x3333, Cause = GenerationCause.UnprotectedWriting });
        Assert.Equal(WitnessVerdict.Superseded, w.Lease(primary, wentOn).Verdict);

        var restarted = new WitnessHarness(w.Directory, w.Time);
        Assert.Equal(WitnessVerdict.Superseded, restarted.Lease(restarted.Connect(), WitnessHarness.Created).Verdict);
        Assert.Equal(0x2222, restarted.Lease(restarted.Connect(), WitnessHarness.Created.Begin(WitnessHarness.Promotion(0x2222))).PairGenerations.Current!.Id);
    }

    [Fact]
    public void A_generation_is_promoted_once_a_second_proposal_is_superseded_and_a_repeat_of_the_first_is_granted_again()
    {
        var w = new WitnessHarness();
        w.PastStartHold();
        LinkId secondary = w.Connect();
        Assert.Equal(WitnessVerdict.Granted, w.Vote(secondary, WitnessHarness.Created, WitnessHarness.Promotion(0x2222)).Verdict);

        // The answer was lost and the node asks again: the same proposal is the same promotion.
        Assert.Equal(WitnessVerdict.Granted, w.Vote(secondary, WitnessHarness.Created, WitnessHarness.Promotion(0x2222)).Verdict);
        Assert.Equal(WitnessVerdict.Superseded, w.Vote(w.Connect(), WitnessHarness.Created, WitnessHarness.Promotion(0x4444)).Verdict);
        Assert.Equal(1, w.Host.VotesGranted);
    }

    [Fact]
    public void A_secondary_left_behind_by_a_primary_that_went_on_alone_gets_no_vote_ever()
    {
        var w = new WitnessHarness();
        w.PastStartHold();
        LinkId primary = w.Connect();
        w.Lease(primary, WitnessHarness.Created);
        DataGenerations alone = WitnessHarness.Created.Begin(new GenerationMark { Id = 0x3333, Cause = GenerationCause.UnprotectedWriting });
        Assert.Equal(WitnessVerdict.Granted, w.Lease(primary, alone).Verdict);
        w.Time.Advance(WitnessHarness.LeaseLength * 2);

        WitnessAnswerMessage vote = w.Vote(w.Connect(), WitnessHarness.Created, WitnessHarness.Promotion(0x2222));
        Assert.Equal(WitnessVerdict.Superseded, vote.Verdict);
        Assert.Contains("would lose writes already acknowledged", vote.Reason, StringComparison.Ordinal);
        Assert.Equal(0, w.Host.VotesGranted);
    }

    [Fact]
    public void A_restarted_witness_votes_only_once_any_lease_it_granted_before_could_have_run_out()
    {
        var w = new WitnessHarness();
        LinkId secondary = w.Connect();
        WitnessAnswerMessage early = w.Vote(secondary, WitnessHarness.Created, WitnessHarness.Promotion(0x2222));
        Assert.Equal(WitnessVerdict.Refused, early.Verdict);
        Assert.Contains("witness started", early.Reason, StringComparison.Ordinal);

        w.PastStartHold();
        Assert.Equal(WitnessVerdict.Granted, w.Vote(secondary, WitnessHarness.Created, WitnessHarness.Promotion(0x2222)).Verdict);
    }

    [Theory]
    [InlineData(WitnessRequestKind.Lease, NodeRole.Secondary, "pair-1", 1500, "a Lease request from a Secondary node")]
    [InlineData(WitnessRequestKind.Vote, NodeRole.Primary, "pair-1", 0, "a Vote request from a Primary node")]
    [InlineData(WitnessRequestKind.Lease, NodeRole.Primary, "../etc", 1500, "a pair id the witness cannot keep a record for")]
    [InlineData(WitnessRequestKind.Lease, NodeRole.Primary, "pair-1", 60_000, "a lease of 60000 ms")]
    [InlineData(WitnessRequestKind.Vote, NodeRole.Secondary, "pair-1", 0, "a vote without a new generation")]
    public void A_request_no_node_of_a_pair_sends_closes_its_connection_and_changes_nothing(WitnessRequestKind kind, NodeRole role, string pairId, int leaseMs, string why)
    {
        var w = new WitnessHarness();
        w.PastStartHold();
        LinkId link = w.Connect();
        w.Host.OnRequest(link, new WitnessRequestMessage { ProtocolVersion = Handshake.ProtocolVersion, PairId = pairId, Role = role, Kind = kind, Generations = WitnessHarness.Created, SentAt = 1, LeaseMilliseconds = leaseMs });

        Assert.Empty(w.Answers);
        Assert.Contains(w.Closed, c => c.Link == link && c.Reason.Contains(why, StringComparison.Ordinal));
        Assert.Empty(w.Host.Pairs());

        // The witness goes on serving others.
        Assert.Equal(WitnessVerdict.Granted, w.Lease(w.Connect(), WitnessHarness.Created).Verdict);
    }

    [Fact]
    public void A_damaged_record_is_refused_naming_its_file_and_is_left_as_it_is()
    {
        var w = new WitnessHarness();
        w.PastStartHold();
        w.Lease(w.Connect(), WitnessHarness.Created);
        MemoryDisk file = w.Directory.Peek("witness-pair-1.json")!;
        byte[] damaged = file.Contents.ToArray();
        damaged[damaged.Length / 2] ^= 0x20;
        file.Write(0, damaged, fua: true);

        var restarted = new WitnessHarness(w.Directory, w.Time);
        restarted.PastStartHold();
        WitnessAnswerMessage vote = restarted.Vote(restarted.Connect(), WitnessHarness.Created, WitnessHarness.Promotion(0x2222));

        Assert.Equal(WitnessVerdict.Refused, vote.Verdict);
        Assert.Contains("witness/witness-pair-1.json", vote.Reason, StringComparison.Ordinal);
        Assert.Equal(damaged, w.Directory.Peek("witness-pair-1.json")!.Contents.ToArray());
        Assert.Equal(0, restarted.Host.VotesGranted);
    }

    [Fact]
    public void Pairs_past_the_bound_are_refused_and_the_known_ones_still_served()
    {
        var w = new WitnessHarness(maxPairs: 1);
        LinkId link = w.Connect();
        Assert.Equal(WitnessVerdict.Granted, w.Lease(link, WitnessHarness.Created).Verdict);
        WitnessAnswerMessage other = w.Ask(link, WitnessRequestKind.Lease, WitnessHarness.Created, pairId: "pair-2");
        Assert.Equal(WitnessVerdict.Refused, other.Verdict);
        Assert.Contains("--max-pairs", other.Reason, StringComparison.Ordinal);
        Assert.Equal(WitnessVerdict.Granted, w.Lease(link, WitnessHarness.Created).Verdict);
    }

    [Fact]
    public void A_connection_that_asks_nothing_for_the_idle_timeout_is_closed()
    {
        var w = new WitnessHarness();
        LinkId quiet = w.Connect();
        LinkId busy = w.Connect();
        w.Time.Advance(TimeSpan.FromSeconds(4));
        w.Lease(busy, WitnessHarness.Created);
        w.Time.Advance(TimeSpan.FromSeconds(2));
        w.Host.OnTick();

        Assert.Contains(w.Closed, c => c.Link == quiet);
        Assert.DoesNotContain(w.Closed, c => c.Link == busy);
    }
}
