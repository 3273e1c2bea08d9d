using Replicator.Core.Blocks;
using Replicator.Core.Primary;
using Replicator.Hosts.Links;
using Replicator.Hosts.Primary;
using Replicator.Hosts.Tests.Support;
using Replicator.Hosts.Witness;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;
using Replicator.Protocol.Witness;
using static Replicator.Hosts.Tests.Support.RecordingPrimaryActions;

namespace Replicator.Hosts.Tests;

/// <summary>
/// A primary with a witness acknowledges a guest request only while it sees a majority for its
/// generation: its secondary following it (a lease from an echoed probe) or the witness's lease,
/// checked as each answer goes out (I6).
/// </summary>
public sealed class PrimaryHostQuorumTests
{
    private static readonly LinkId WitnessLink = new(1000);
    private static readonly TimeSpan Lease = TimeSpan.FromMilliseconds(1500);

    private static PrimaryHarness WithWitness(NoQuorumPolicy policy = NoQuorumPolicy.SuspendIo) => new(o => o with
    {
        Witness = new WitnessSessionOptions { Address = "witness:7800", PairId = o.PairId, Lease = Lease, Timeout = TimeSpan.FromSeconds(2) },
        NoQuorum = policy,
    });

    /// <summary>The first heartbeat asks for the witness; the shell connects it.</summary>
    private static void ConnectWitness(PrimaryHarness h)
    {
        h.Host.OnHeartbeatTick();
        Assert.Single(h.Actions.Of<WitnessConnectAsked>());
        h.Host.OnWitnessConnected(WitnessLink);
    }

    /// <summary>The witness answers the last lease request the host sent it.</summary>
    private static void AnswerLease(PrimaryHarness h, WitnessVerdict verdict, string? reason = null)
    {
        var request = (WitnessRequestMessage)h.Actions.Of<Sent>().Last(s => s.Link == WitnessLink).Message;
        Assert.Equal(WitnessRequestKind.Lease, request.Kind);
        h.Host.OnFrame(WitnessLink, new PrimaryInput(PrimaryInputKind.WitnessAnswer, FrameType.WitnessAnswer, WitnessAnswer: new WitnessAnswerMessage
        {
            Kind = WitnessRequestKind.Lease,
            Verdict = verdict,
            SentAt = request.SentAt,
            Reason = reason,
            PairGenerations = verdict == WitnessVerdict.Granted ? request.Generations : DataGenerations.None.Begin(new GenerationMark { Id = 0x9999, Cause = GenerationCause.Promotion }),
        }));
    }

    private static RequestStatus? Answer(PrimaryHarness h, long id) => h.Actions.Of<GuestCompleted>().Where(c => c.RequestId == id).Select(c => (RequestStatus?)c.Status).SingleOrDefault();

    /// <summary>A guest write done locally (with no secondary, it is not mirrored).</summary>
    private static void WriteDone(PrimaryHarness h, long id)
    {
        h.Write(id, 4096 * id);
        Issued issued = h.Actions.Of<Issued>().Single(i => i.RequestId == id);
        h.Host.OnLocalCompleted(issued.RequestId, issued.Request, null);
    }

    [Fact]
    public void Without_any_lease_the_answer_is_held_and_goes_out_once_the_witness_grants_one()
    {
        var h = WithWitness();
        h.StartConnectedThenLose();
        WriteDone(h, 1);
        Assert.Null(Answer(h, 1));
        Assert.Equal(PrimaryQuorum.Lost, h.Host.Quorum);

        ConnectWitness(h);
        AnswerLease(h, WitnessVerdict.Granted);
        Assert.Equal(RequestStatus.Ok, Answer(h, 1));
        Assert.Equal(PrimaryQuorum.Witness, h.Host.Quorum);
    }

    [Fact]
    public void A_secondary_that_echoes_the_probe_is_a_majority_until_its_lease_runs_out()
    {
        var h = WithWitness();
        LinkId link = h.StartConnected();
        h.Host.OnHeartbeatTick();
        var probe = (HeartbeatMessage)h.Actions.Of<Sent>().Last(s => s.Link == link && s.Type == FrameType.Heartbeat).Message;
        Assert.NotEqual(0, probe.Probe);
        h.Host.OnFrame(link, new PrimaryInput(PrimaryInputKind.Heartbeat, FrameType.Heartbeat, Value: probe.Probe, PromiseMilliseconds: 2000));
        Assert.Equal(PrimaryQuorum.Peer, h.Host.Quorum);
        h.Write(1, 0);
        h.Pump(link);
        Assert.Equal(RequestStatus.Ok, Answer(h, 1));

        // The lease runs from the probe's send time, not from the echo's arrival.
        h.Time.Advance(Lease);
        h.Write(2, 4096);
        h.Pump(link);
        Assert.Null(Answer(h, 2));
        Assert.Equal(PrimaryQuorum.Lost, h.Host.Quorum);
    }

    [Fact]
    public void A_lease_is_never_longer_than_nine_tenths_of_the_secondary_s_own_promise()
    {
        var h = WithWitness();
        LinkId link = h.StartConnected();
        h.Host.OnHeartbeatTick();
        var probe = (HeartbeatMessage)h.Actions.Of<Sent>().Last(s => s.Link == link && s.Type == FrameType.Heartbeat).Message;
        h.Host.OnFrame(link, new PrimaryInput(PrimaryInputKind.Heartbeat, FrameType.Heartbeat, Value: probe.Probe, PromiseMilliseconds: 1000));
        h.Time.Advance(TimeSpan.FromMilliseconds(900));
        h.Write(1, 0);
        h.Pump(link);
        Assert.Null(Answer(h, 1));
    }

    [Fact]
    public void A_primary_paused_past_its_lease_holds_what_it_had_read_instead_of_acknowledging_it()
    {
        var h = WithWitness();
        h.StartConnectedThenLose();
        ConnectWitness(h);
        AnswerLease(h, WitnessVerdict.Granted);
        h.Write(1, 0);

        // The process stops with the request read; it wakes after its lease ran out, no tick in between.
        h.Time.Advance(Lease + TimeSpan.FromMilliseconds(1));
        Issued issued = Assert.Single(h.Actions.Of<Issued>());
        h.Host.OnLocalCompleted(issued.RequestId, issued.Request, null);
        Assert.Null(Answer(h, 1));
    }

    [Fact]
    public void A_superseded_primary_fails_what_it_holds_and_every_request_after()
    {
        var h = WithWitness();
        h.StartConnectedThenLose();
        WriteDone(h, 1);
        ConnectWitness(h);
        AnswerLease(h, WitnessVerdict.Superseded, "generation 1111 was taken over");

        Assert.Equal(RequestStatus.IoError, Answer(h, 1));
        Assert.Equal(PrimaryQuorum.Superseded, h.Host.Quorum);
        Assert.Contains("taken over", Assert.Single(h.Actions.Of<FencedOff>()).Reason, StringComparison.Ordinal);
        h.Write(2, 4096);
        Assert.Equal(RequestStatus.IoError, Answer(h, 2));
        Assert.DoesNotContain(h.Actions.Of<Issued>(), i => i.RequestId == 2);
    }

    [Fact]
    public void With_io_error_the_answer_fails_at_once()
    {
        var h = WithWitness(NoQuorumPolicy.IoError);
        h.StartConnectedThenLose();
        WriteDone(h, 1);
        Assert.Equal(RequestStatus.IoError, Answer(h, 1));
    }

    [Fact]
    public void The_lease_of_the_generation_before_does_not_cover_writes_of_the_one_begun_when_the_secondary_was_lost()
    {
        var h = WithWitness();
        LinkId link = h.StartConnected();
        ConnectWitness(h);
        AnswerLease(h, WitnessVerdict.Granted);
        Assert.Equal(PrimaryQuorum.Witness, h.Host.Quorum);
        GenerationMark before = h.Host.Generations.Current!;

        h.Host.OnLinkClosed(link, "cable pulled");
        Assert.NotEqual(before, h.Host.Generations.Current);
        WriteDone(h, 1);
        Assert.Null(Answer(h, 1));

        // Asked at once for the new generation; the witness's grant releases the answer.
        var asked = (WitnessRequestMessage)h.Actions.Of<Sent>().Last(s => s.Link == WitnessLink).Message;
        Assert.Equal(h.Host.Generations.Current, asked.Generations.Current);
        AnswerLease(h, WitnessVerdict.Granted);
        Assert.Equal(RequestStatus.Ok, Answer(h, 1));
    }

    [Fact]
    public void Without_a_witness_nothing_is_held()
    {
        var h = new PrimaryHarness();
        h.StartConnectedThenLose();
        WriteDone(h, 1);
        Assert.Equal(RequestStatus.Ok, Answer(h, 1));
        Assert.Equal(PrimaryQuorum.NotRequired, h.Host.Quorum);
    }

    [Fact]
    public void A_primary_fenced_by_its_secondary_acknowledges_nothing_after()
    {
        var h = new PrimaryHarness();
        LinkId link = h.StartConnected();
        h.Host.OnFrame(link, PrimaryHarness.Error("this node has been promoted", fenced: true));
        h.Write(1, 0);
        Assert.Equal(RequestStatus.IoError, Answer(h, 1));
    }

    [Fact]
    public void A_checkpoint_captures_the_guest_only_once_every_held_answer_went_out()
    {
        var h = WithWitness();
        LinkId link = h.StartConnected();
        h.Write(1, 0);
        Issued issued = Assert.Single(h.Actions.Of<Issued>());
        h.Host.OnLocalCompleted(issued.RequestId, issued.Request, null);
        Assert.Null(Answer(h, 1));

        h.Host.RequestCheckpoint(1);
        Assert.Single(h.Actions.Of<Paused>());
        Assert.Empty(h.Actions.Of<CaptureAsked>());

        // The secondary's echo is a majority again: the answer goes out first, then the capture.
        h.Host.OnHeartbeatTick();
        var probe = (HeartbeatMessage)h.Actions.Of<Sent>().Last(s => s.Link == link && s.Type == FrameType.Heartbeat).Message;
        h.Host.OnFrame(link, new PrimaryInput(PrimaryInputKind.Heartbeat, FrameType.Heartbeat, Value: probe.Probe, PromiseMilliseconds: 2000));
        int answered = h.Actions.Calls.FindIndex(c => c is GuestCompleted { RequestId: 1, Status: RequestStatus.Ok });
        int captured = h.Actions.Calls.FindIndex(c => c is CaptureAsked);
        Assert.True(answered >= 0 && captured > answered, $"answered at {answered}, captured at {captured}");
    }

    [Fact]
    public void Output_without_a_majority_waits_and_is_released_once_a_lease_is_granted()
    {
        var h = WithWitness();
        h.StartConnectedThenLose();
        h.Host.SubmitOutput(7);
        Assert.Empty(h.Actions.Of<OutputReleased>());

        ConnectWitness(h);
        AnswerLease(h, WitnessVerdict.Granted);
        Assert.Equal(new OutputReleased(7, false), Assert.Single(h.Actions.Of<OutputReleased>()));
    }
}
