using NSubstitute;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Primary;
using Replicator.Core.Tests.Support;
using static Replicator.Core.Tests.Support.Records;

namespace Replicator.Core.Tests.Primary;

/// <summary>
/// A guest whose pause completes later (a hypervisor whose stop waits for its own requests in
/// flight): until it reports paused, its requests are still admitted into the epoch being closed.
/// </summary>
public class GuestPausesLaterTests
{
    private readonly IPrimaryActions _actions = Substitute.For<IPrimaryActions>();

    private PrimaryEngine NewPrimary() =>
        new(new PrimaryOptions { Geometry = Geometry, SecondaryBufferBytes = 1 << 20 }, _actions) { GuestPausesLater = true };

    [Fact]
    public void A_request_that_arrives_before_the_guest_paused_is_admitted_into_the_closing_epoch()
    {
        PrimaryEngine primary = NewPrimary();
        Assert.Equal(1, primary.RequestCheckpoint(CheckpointTrigger.Explicit));
        _actions.Received(1).PauseGuest();
        Assert.Equal(PrimaryPhase.Running, primary.Phase);

        // The guest's stop waits for this one: it must not be held for the next epoch.
        primary.Submit(1, BlockRequest.Write(0, 4096), Filled(4096, 1));
        Assert.Equal([1L], _actions.Issued());

        // A second request for a checkpoint while the guest is pausing starts nothing new.
        Assert.Equal(1, primary.RequestCheckpoint(CheckpointTrigger.Interval));
        _actions.Received(1).PauseGuest();

        primary.OnLocalCompleted(1, true);
        _actions.DidNotReceive().CaptureVmState(Arg.Any<long>());

        primary.OnGuestPaused();
        _actions.Received(1).CaptureVmState(1);
        primary.OnVmCaptured(1, Snapshot(1));
        CheckpointRecord checkpoint = Assert.Single(_actions.Checkpoints());
        Assert.Equal((1L, 1L, 1L), (checkpoint.Epoch, checkpoint.FirstSequence, checkpoint.LastSequence));
        _actions.Received(1).ResumeGuest();
    }

    [Fact]
    public void The_drain_after_the_pause_still_waits_for_requests_in_flight_and_holds_new_ones()
    {
        PrimaryEngine primary = NewPrimary();
        primary.RequestCheckpoint(CheckpointTrigger.Explicit);
        primary.Submit(1, BlockRequest.Write(0, 4096), Filled(4096, 1));
        primary.OnGuestPaused();
        Assert.Equal(PrimaryPhase.Draining, primary.Phase);
        _actions.DidNotReceive().CaptureVmState(Arg.Any<long>());

        primary.Submit(2, BlockRequest.Write(8192, 4096), Filled(4096, 2));
        Assert.Equal([1L], _actions.Issued());
        primary.OnLocalCompleted(1, true);
        _actions.Received(1).CaptureVmState(1);
        primary.OnVmCaptured(1, Snapshot(1));
        Assert.Equal([1L, 2], _actions.Issued());
    }

    [Fact]
    public void A_pause_no_checkpoint_of_this_engine_asked_for_resumes_the_guest()
    {
        PrimaryEngine primary = NewPrimary();
        primary.OnGuestPaused();
        _actions.Received(1).ResumeGuest();
        _actions.DidNotReceive().CaptureVmState(Arg.Any<long>());
        Assert.Equal(PrimaryPhase.Running, primary.Phase);
    }
}
