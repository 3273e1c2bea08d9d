using NSubstitute;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Primary;
using Replicator.Core.Tests.Support;
using static Replicator.Core.Tests.Support.Records;

namespace Replicator.Core.Tests.Primary;

/// <summary>Drain, capture, close, resume, output commit (I5), early checkpoints and credit.</summary>
public class CheckpointCoordinatorTests
{
    private readonly IPrimaryActions _actions = Substitute.For<IPrimaryActions>();

    private PrimaryEngine NewPrimary(long bufferBytes = 1 << 20, int maxUnacknowledged = 4) =>
        new(new PrimaryOptions { Geometry = Geometry, SecondaryBufferBytes = bufferBytes, MaxUnacknowledgedCheckpoints = maxUnacknowledged }, _actions);

    [Fact]
    public void A_write_in_flight_at_checkpoint_start_is_drained_into_the_closing_epoch()
    {
        PrimaryEngine primary = NewPrimary();
        primary.Submit(1, BlockRequest.Write(0, 4096), Filled(4096, 1));

        Assert.Equal(1, primary.RequestCheckpoint(CheckpointTrigger.Explicit));
        Assert.Equal(PrimaryPhase.Draining, primary.Phase);
        _actions.Received(1).PauseGuest();
        _actions.DidNotReceive().CaptureVmState(Arg.Any<long>());

        // Arrives while draining: waits, and joins the next epoch.
        primary.Submit(2, BlockRequest.Write(8192, 4096), Filled(4096, 2));
        Assert.Equal([1L], _actions.Issued());

        primary.OnLocalCompleted(1, true);
        _actions.Received(1).CaptureVmState(1);
        primary.OnVmCaptured(1, Snapshot(1));

        CheckpointRecord checkpoint = Assert.Single(_actions.Checkpoints());
        Assert.Equal((1L, 1L, 1L), (checkpoint.Epoch, checkpoint.FirstSequence, checkpoint.LastSequence));
        Assert.Equal(CheckpointFor(1, 1, 1, _actions.Mirrors()[0]).Digest, checkpoint.Digest);
        Assert.Equal([1L, 2], _actions.Issued());
        primary.OnLocalCompleted(2, true);
        Assert.Equal(2, _actions.Mirrors()[1].Epoch);
    }

    [Fact]
    public void Overlapping_writes_in_flight_at_checkpoint_start_all_drain_before_the_capture()
    {
        PrimaryEngine primary = NewPrimary();
        primary.Submit(1, BlockRequest.Write(0, 4096), Filled(4096, 1));
        primary.Submit(2, BlockRequest.Write(0, 4096), Filled(4096, 2));
        primary.RequestCheckpoint(CheckpointTrigger.Interval);

        primary.OnLocalCompleted(1, true);
        _actions.DidNotReceive().CaptureVmState(Arg.Any<long>());
        primary.OnLocalCompleted(2, true);
        _actions.Received(1).CaptureVmState(1);
    }

    [Fact]
    public void The_guest_resumes_once_captured_before_the_checkpoint_is_serialised_and_sent_and_without_waiting_for_the_ack()
    {
        PrimaryEngine primary = NewPrimary();
        primary.RequestCheckpoint(CheckpointTrigger.Interval);
        primary.OnVmCaptured(1, Snapshot(1));

        // Hashing the snapshot and encoding its frame happen outside the pause.
        Assert.Equal(["PauseGuest", "CaptureVmState", "ResumeGuest", "SendCheckpoint"], _actions.Names());
        Assert.Equal(2, primary.CurrentEpoch);
        Assert.Equal(0, primary.LastAcknowledgedEpoch);
        Assert.Equal(PrimaryPhase.Running, primary.Phase);
    }

    [Fact]
    public void Output_is_held_until_its_epoch_is_acknowledged()
    {
        PrimaryEngine primary = NewPrimary();
        primary.SubmitOutput(100);               // epoch 1
        primary.RequestCheckpoint(CheckpointTrigger.Interval);
        primary.OnVmCaptured(1, Snapshot(1));
        primary.SubmitOutput(200);               // epoch 2
        _actions.DidNotReceive().ReleaseOutput(Arg.Any<long>(), Arg.Any<bool>());

        primary.OnCheckpointAcknowledged(1);
        _actions.Received(1).ReleaseOutput(100, true);
        _actions.DidNotReceive().ReleaseOutput(200, Arg.Any<bool>());
        _actions.Received(1).CheckpointCommitted(1);
        Assert.Equal(1, primary.HeldOutputs);
    }

    [Fact]
    public void Output_reported_during_a_checkpoint_waits_for_the_next_epoch()
    {
        PrimaryEngine primary = NewPrimary();
        primary.Submit(1, BlockRequest.Flush(), default);
        primary.RequestCheckpoint(CheckpointTrigger.Interval);
        primary.SubmitOutput(7);
        primary.OnLocalCompleted(1, true);
        primary.OnVmCaptured(1, Snapshot(1));

        primary.OnCheckpointAcknowledged(1);
        _actions.DidNotReceive().ReleaseOutput(7, Arg.Any<bool>());
    }

    [Fact]
    public void When_degraded_held_output_is_released_marked_unprotected_by_default()
    {
        PrimaryEngine primary = NewPrimary();
        primary.SubmitOutput(1);
        primary.OnSecondaryLost("heartbeat timeout");
        _actions.Received(1).ReleaseOutput(1, false);
    }

    [Fact]
    public void Under_the_hold_policy_degraded_output_waits_for_the_operator()
    {
        var primary = new PrimaryEngine(new PrimaryOptions { Geometry = Geometry, SecondaryBufferBytes = 1 << 20, DegradedOutputPolicy = DegradedOutputPolicy.Hold }, _actions);
        primary.SubmitOutput(1);
        primary.OnSecondaryLost("heartbeat timeout");
        primary.SubmitOutput(2);
        _actions.DidNotReceive().ReleaseOutput(Arg.Any<long>(), Arg.Any<bool>());

        primary.ReleaseHeldOutputsUnprotected();
        _actions.Received(1).ReleaseOutput(1, false);
        _actions.Received(1).ReleaseOutput(2, false);
    }

    [Fact]
    public void At_the_limit_of_unacknowledged_checkpoints_the_next_one_starts_on_the_next_ack()
    {
        PrimaryEngine primary = NewPrimary(maxUnacknowledged: 1);
        primary.RequestCheckpoint(CheckpointTrigger.Interval);
        primary.OnVmCaptured(1, Snapshot(1));

        Assert.Equal(2, primary.RequestCheckpoint(CheckpointTrigger.Explicit));
        Assert.Equal(PrimaryPhase.Running, primary.Phase);

        primary.OnCheckpointAcknowledged(1);
        Assert.Equal(PrimaryPhase.Capturing, primary.Phase);
        _actions.Received(1).CaptureVmState(2);
    }

    [Fact]
    public void Acknowledgements_are_cumulative_and_an_unknown_one_degrades()
    {
        PrimaryEngine primary = NewPrimary();
        for (long e = 1; e <= 2; e++)
        {
            primary.RequestCheckpoint(CheckpointTrigger.Interval);
            primary.OnVmCaptured(e, Snapshot(e));
        }

        primary.OnCheckpointAcknowledged(2);
        Assert.Equal(0, primary.UnacknowledgedCheckpoints);
        primary.OnCheckpointAcknowledged(1); // late duplicate: ignored
        Assert.False(primary.IsDegraded);

        primary.OnCheckpointAcknowledged(9);
        Assert.Contains("never sent", primary.DegradedReason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_buffer_nearing_its_bound_closes_the_epoch_early()
    {
        long bound = 4 * (64 * 1024 + MirrorRecord.RecordOverheadBytes);
        PrimaryEngine primary = NewPrimary(bufferBytes: bound);
        primary.Submit(1, BlockRequest.Write(0, 65536), new byte[65536]);
        Assert.Equal(PrimaryPhase.Running, primary.Phase);

        primary.Submit(2, BlockRequest.Write(65536, 65536), new byte[65536]);
        Assert.Equal(PrimaryPhase.Draining, primary.Phase);
    }

    [Fact]
    public void A_buffer_at_its_bound_queues_the_guest_until_credit_returns_and_drops_nothing()
    {
        long bound = 2 * (64 * 1024 + MirrorRecord.RecordOverheadBytes);
        var primary = new PrimaryEngine(new PrimaryOptions { Geometry = Geometry, SecondaryBufferBytes = bound, EarlyCheckpointFraction = 1 }, _actions);
        primary.Submit(1, BlockRequest.Write(0, 65536), new byte[65536]);
        primary.Submit(2, BlockRequest.Write(65536, 65536), new byte[65536]);
        primary.OnLocalCompleted(1, true);
        primary.OnLocalCompleted(2, true);
        Assert.Equal(0, primary.CreditAvailable);

        primary.Submit(3, BlockRequest.Write(0, 512), new byte[512]);
        Assert.Equal(1, primary.QueuedCount);
        Assert.Equal(PrimaryPhase.Capturing, primary.Phase); // closing the full epoch is the way out
        primary.OnVmCaptured(1, Snapshot(1));
        Assert.Equal(1, primary.QueuedCount);               // still no room until the secondary frees some

        primary.OnCreditReturned(bound);
        Assert.Equal(0, primary.QueuedCount);
        Assert.Contains(3L, _actions.Issued());
    }

    [Fact]
    public void Credit_beyond_what_was_given_is_a_protocol_error()
    {
        PrimaryEngine primary = NewPrimary();
        primary.OnCreditReturned(1);
        Assert.True(primary.IsDegraded);
    }

    [Fact]
    public void A_rejected_epoch_degrades_the_pair()
    {
        PrimaryEngine primary = NewPrimary();
        primary.OnEpochRejected(3, "digest mismatch");
        _actions.Received(1).SecondaryDegraded("the secondary rejected epoch 3: digest mismatch");
    }

    [Fact]
    public void Losing_the_secondary_mid_drain_finishes_the_drain_and_resumes_without_a_capture()
    {
        PrimaryEngine primary = NewPrimary();
        primary.Submit(1, BlockRequest.Write(0, 4096), Filled(4096, 1));
        primary.RequestCheckpoint(CheckpointTrigger.Interval);
        primary.OnSecondaryLost("link down");
        primary.OnLocalCompleted(1, true);

        _actions.DidNotReceive().CaptureVmState(Arg.Any<long>());
        _actions.Received(1).ResumeGuest();
        Assert.Equal(PrimaryPhase.Running, primary.Phase);
    }

    [Fact]
    public void A_capture_reported_out_of_turn_is_a_driver_bug()
    {
        PrimaryEngine primary = NewPrimary();
        var error = Assert.Throws<InvalidOperationException>(() => primary.OnVmCaptured(1, Snapshot(1)));
        Assert.Equal("capture of epoch 1 reported while the primary is Running in epoch 1", error.Message);
    }

    [Fact]
    public void A_capture_without_a_snapshot_is_a_driver_bug()
    {
        PrimaryEngine primary = NewPrimary();
        primary.RequestCheckpoint(CheckpointTrigger.Interval);
        Assert.Throws<ArgumentNullException>(() => primary.OnVmCaptured(1, null!));
        Assert.Equal(PrimaryPhase.Capturing, primary.Phase);
    }
}
