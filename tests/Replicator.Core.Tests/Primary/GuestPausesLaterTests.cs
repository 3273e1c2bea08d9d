using NSubstitute;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Primary;
using Replicator.Core.Tests.Support;
using static Replicator.Core.Tests.Support.Records;

namespace Replicator.Core.Tests.Primary;

/// <summary>
/// A hypervisor's pause completes later (its stop waits for the guest's requests in flight, some of
/// which have not reached the engine yet): until the guest reports paused, requests are still
/// admitted into the closing epoch; the drain and the capture follow the report (I1 still: every
/// request the guest issued before it stopped is in the checkpoint, none after).
/// </summary>
public class GuestPausesLaterTests
{
    private readonly IPrimaryActions _actions = Substitute.For<IPrimaryActions>();

    private PrimaryEngine NewPrimary() =>
        new(new PrimaryOptions { Geometry = Geometry, SecondaryBufferBytes = 1 << 20 }, _actions) { GuestPausesLater = true };

    [Fact]
    public void Requests_that_arrive_before_the_guest_reports_paused_join_the_closing_epoch_and_the_capture_waits_for_them()
    {
        PrimaryEngine primary = NewPrimary();
        primary.Submit(1, BlockRequest.Write(0, 4096), Filled(4096, 1));

        Assert.Equal(1, primary.RequestCheckpoint(CheckpointTrigger.Explicit));
        _actions.Received(1).PauseGuest();
        Assert.Equal(PrimaryPhase.Running, primary.Phase);

        // Issued by the guest before its stop took hold: admitted at once, into epoch 1.
        primary.Submit(2, BlockRequest.Write(8192, 4096), Filled(4096, 2));
        Assert.Equal([1L, 2], _actions.Issued());
        Assert.Equal(1, primary.RequestCheckpoint(CheckpointTrigger.Explicit)); // still the one closing: nothing new starts
        _actions.Received(1).PauseGuest();

        primary.OnLocalCompleted(1, true);
        primary.OnLocalCompleted(2, true);
        _actions.DidNotReceive().CaptureVmState(Arg.Any<long>());

        primary.OnGuestPaused();
        _actions.Received(1).CaptureVmState(1);
        primary.OnVmCaptured(1, Snapshot(1));

        CheckpointRecord checkpoint = Assert.Single(_actions.Checkpoints());
        Assert.Equal((1L, 1L, 2L), (checkpoint.Epoch, checkpoint.FirstSequence, checkpoint.LastSequence));
        Assert.All(_actions.Mirrors(), m => Assert.Equal(1, m.Epoch));
    }

    [Fact]
    public void Once_paused_the_drain_holds_what_is_still_in_flight_and_new_requests_wait_for_the_next_epoch()
    {
        PrimaryEngine primary = NewPrimary();
        primary.Submit(1, BlockRequest.Write(0, 4096), Filled(4096, 1));
        primary.RequestCheckpoint(CheckpointTrigger.Interval);
        primary.OnGuestPaused();
        Assert.Equal(PrimaryPhase.Draining, primary.Phase);

        primary.Submit(2, BlockRequest.Write(8192, 4096), Filled(4096, 2));
        Assert.Equal([1L], _actions.Issued());
        primary.OnLocalCompleted(1, true);
        _actions.Received(1).CaptureVmState(1);
    }

    [Fact]
    public void A_pause_reported_that_no_checkpoint_waits_for_resumes_the_guest()
    {
        PrimaryEngine primary = NewPrimary();

        primary.OnGuestPaused();

        _actions.Received(1).ResumeGuest();
        _actions.DidNotReceive().CaptureVmState(Arg.Any<long>());
    }
}
