using NSubstitute;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Primary;
using Replicator.Core.Tests.Support;
using static Replicator.Core.Tests.Support.Records;

namespace Replicator.Core.Tests.Primary;

/// <summary>
/// Acknowledgements as a secondary (or a damaged link) may really deliver them: repeated, late, for
/// an epoch still being captured, or for one never sent. Only an acknowledgement of an epoch that
/// was sent releases output (I5) or counts as committed.
/// </summary>
public class AcknowledgementTests
{
    private readonly IPrimaryActions _actions = Substitute.For<IPrimaryActions>();
    private readonly PrimaryEngine _primary;

    public AcknowledgementTests() =>
        _primary = new PrimaryEngine(new PrimaryOptions { Geometry = Geometry, SecondaryBufferBytes = 1 << 20, MaxUnacknowledgedCheckpoints = 4 }, _actions);

    [Fact]
    public void A_repeated_acknowledgement_of_the_latest_epoch_changes_nothing()
    {
        _primary.SubmitOutput(10);
        Checkpoint(1);
        _primary.OnCheckpointAcknowledged(1);
        _actions.ClearReceivedCalls();

        _primary.OnCheckpointAcknowledged(1);
        Assert.Empty(_actions.ReceivedCalls());
        Assert.Equal(1, _primary.LastAcknowledgedEpoch);
        Assert.False(_primary.IsDegraded);
    }

    [Fact]
    public void An_acknowledgement_of_the_epoch_still_being_captured_degrades_and_releases_nothing_as_protected()
    {
        _primary.SubmitOutput(10);
        _primary.RequestCheckpoint(CheckpointTrigger.Interval); // epoch 1 is being captured, not yet sent

        _primary.OnCheckpointAcknowledged(1);
        Assert.True(_primary.IsDegraded);
        Assert.Contains("epoch 1, which was never sent", _primary.DegradedReason, StringComparison.Ordinal);
        _actions.DidNotReceive().ReleaseOutput(10, true);
        _actions.DidNotReceive().CheckpointCommitted(Arg.Any<long>());
        Assert.Equal(0, _primary.LastAcknowledgedEpoch);
    }

    [Fact]
    public void An_acknowledgement_of_an_epoch_not_yet_reached_degrades()
    {
        Checkpoint(1);
        _primary.OnCheckpointAcknowledged(2); // epoch 2 is the one running now
        Assert.True(_primary.IsDegraded);
        _actions.DidNotReceive().CheckpointCommitted(Arg.Any<long>());
    }

    [Fact]
    public void An_acknowledgement_covers_every_earlier_epoch_and_releases_their_output_in_order()
    {
        _primary.SubmitOutput(10);
        Checkpoint(1);
        _primary.SubmitOutput(20);
        Checkpoint(2);
        _primary.SubmitOutput(30);
        Checkpoint(3);

        _primary.OnCheckpointAcknowledged(2);
        Received.InOrder(() =>
        {
            _actions.ReleaseOutput(10, true);
            _actions.ReleaseOutput(20, true);
            _actions.CheckpointCommitted(2);
        });
        _actions.DidNotReceive().ReleaseOutput(30, Arg.Any<bool>());
        Assert.Equal(1, _primary.UnacknowledgedCheckpoints);
        Assert.Equal(2, _primary.LastAcknowledgedEpoch);

        _primary.OnCheckpointAcknowledged(3);
        _actions.Received(1).ReleaseOutput(30, true);
        Assert.Equal(0, _primary.UnacknowledgedCheckpoints);
    }

    [Fact]
    public void An_acknowledgement_that_goes_backwards_is_ignored()
    {
        _primary.SubmitOutput(10);
        Checkpoint(1);
        Checkpoint(2);
        _primary.OnCheckpointAcknowledged(2);
        _actions.ClearReceivedCalls();

        _primary.OnCheckpointAcknowledged(1);
        Assert.Empty(_actions.ReceivedCalls());
        Assert.Equal(2, _primary.LastAcknowledgedEpoch);
    }

    [Fact]
    public void After_degradation_acknowledgements_from_the_old_stream_are_ignored()
    {
        Checkpoint(1);
        _primary.OnSecondaryLost("link down");
        _actions.ClearReceivedCalls();

        _primary.OnCheckpointAcknowledged(1);
        _actions.DidNotReceive().CheckpointCommitted(Arg.Any<long>());
        Assert.Equal(0, _primary.LastAcknowledgedEpoch);
    }

    [Fact]
    public void A_capture_completing_after_degradation_sends_no_checkpoint_and_resumes_the_guest()
    {
        _primary.RequestCheckpoint(CheckpointTrigger.Interval);
        Assert.Equal(PrimaryPhase.Capturing, _primary.Phase);
        _primary.OnSecondaryLost("link down");

        _primary.OnVmCaptured(1, Snapshot(1));
        _actions.DidNotReceive().SendCheckpoint(Arg.Any<CheckpointRecord>());
        _actions.Received(1).ResumeGuest();
        Assert.Equal(PrimaryPhase.Running, _primary.Phase);
        Assert.Equal(0, _primary.UnacknowledgedCheckpoints);
        Assert.Equal(1, _primary.CurrentEpoch);
    }

    [Fact]
    public void A_checkpoint_asked_for_while_degraded_is_refused_and_the_guest_is_not_paused()
    {
        _primary.OnSecondaryLost("link down");
        Assert.Equal(PrimaryEngine.NoCheckpoint, _primary.RequestCheckpoint(CheckpointTrigger.Explicit));
        _actions.DidNotReceive().PauseGuest();
    }

    [Fact]
    public void A_checkpoint_asked_for_during_one_returns_the_epoch_being_closed()
    {
        _primary.Submit(1, BlockRequest.Write(0, 4096), Filled(4096, 1));
        Assert.Equal(1, _primary.RequestCheckpoint(CheckpointTrigger.Interval));
        Assert.Equal(1, _primary.RequestCheckpoint(CheckpointTrigger.Explicit)); // draining: epoch 1 covers it
        _actions.Received(1).PauseGuest();
    }

    [Fact]
    public void A_checkpoint_deferred_at_the_limit_is_dropped_when_the_pair_degrades()
    {
        var primary = new PrimaryEngine(new PrimaryOptions { Geometry = Geometry, SecondaryBufferBytes = 1 << 20, MaxUnacknowledgedCheckpoints = 1 }, _actions);
        primary.RequestCheckpoint(CheckpointTrigger.Interval);
        primary.OnVmCaptured(1, Snapshot(1));
        Assert.Equal(2, primary.RequestCheckpoint(CheckpointTrigger.Explicit)); // deferred
        primary.OnSecondaryLost("link down");
        _actions.ClearReceivedCalls();

        primary.OnCheckpointAcknowledged(1);
        _actions.DidNotReceive().PauseGuest();
        Assert.Equal(PrimaryPhase.Running, primary.Phase);
    }

    private void Checkpoint(long epoch)
    {
        Assert.Equal(epoch, _primary.RequestCheckpoint(CheckpointTrigger.Interval));
        _primary.OnVmCaptured(epoch, Snapshot(epoch));
    }
}
