using NSubstitute;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Primary;
using Replicator.Core.Tests.Support;
using Replicator.Core.Vm;
using static Replicator.Core.Tests.Support.Records;

namespace Replicator.Core.Tests.Primary;

/// <summary>
/// The primary's side of a resync (I7): what it copies, how copies are ordered against guest writes,
/// when the pair is protected again, and which secondaries it refuses.
/// </summary>
public class ResyncTests
{
    private const int Region = 64 * 1024;
    private const long Bound = 1 << 20;

    private readonly IPrimaryActions _actions = Substitute.For<IPrimaryActions>();
    private readonly HashSet<long> _readsDone = new();
    private PrimaryEngine _primary;

    public ResyncTests() => _primary = NewPrimary();

    private PrimaryEngine NewPrimary(DegradedOutputPolicy policy = DegradedOutputPolicy.ReleaseUnprotected, int readsInFlight = 4) =>
        new(new PrimaryOptions { Geometry = Geometry, SecondaryBufferBytes = Bound, DirtyRegionBytes = Region, DegradedOutputPolicy = policy, MaxResyncReadsInFlight = readsInFlight }, _actions);

    private List<(long Id, long Offset, int Length)> Reads() => _actions.ReceivedCalls()
        .Where(c => c.GetMethodInfo().Name == nameof(IPrimaryActions.ReadForResync))
        .Select(c => ((long)c.GetArguments()[0]!, (long)c.GetArguments()[1]!, (int)c.GetArguments()[2]!)).ToList();

    private ResyncPlan Plan() => (ResyncPlan)Assert.Single(_actions.ReceivedCalls(), c => c.GetMethodInfo().Name == nameof(IPrimaryActions.SendResyncStart)).GetArguments()[0]!;

    private void Write(long id, long offset, byte fill, bool complete = true)
    {
        _primary.Submit(id, BlockRequest.Write(offset, 4096), Filled(4096, fill));
        if (complete)
        {
            _primary.OnLocalCompleted(id, true);
        }
    }

    /// <summary>Closes the current epoch (nothing in flight) and returns its checkpoint as sent.</summary>
    private CheckpointRecord CloseEpoch()
    {
        long epoch = _primary.RequestCheckpoint(CheckpointTrigger.Explicit);
        _primary.OnVmCaptured(epoch, new VmSnapshot(epoch, [], []));
        return _actions.Checkpoints()[^1];
    }

    /// <summary>Completes every resync read asked for so far (the ones it lets in are left for the next call).</summary>
    private void CompleteReads(byte fill)
    {
        foreach ((long id, long _, int length) in Reads().Where(r => _readsDone.Add(r.Id)).ToList())
        {
            _primary.OnResyncReadCompleted(id, true, Filled(length, fill));
        }
    }

    [Fact]
    public void A_resync_copies_only_the_regions_written_after_the_secondarys_checkpoint()
    {
        Write(1, 0, 0xA);                       // epoch 1, region 0
        CloseEpoch();
        _primary.OnCheckpointAcknowledged(1);
        Write(2, 2 * Region, 0xB);              // epoch 2, region 2
        _primary.OnSecondaryLost("link cut");
        Write(3, 5 * Region + 4096, 0xC);       // degraded, region 5

        Assert.Null(_primary.BeginResync(secondaryEpoch: 1, secondaryLastSequence: 1, secondaryBufferBytes: Bound));

        Assert.Equal(new ResyncPlan(BaseEpoch: 1, FirstEpoch: 3, FirstSequence: 4, Regions: 2, Bytes: 2 * Region), Plan());
        Assert.Equal([(2L * Region, Region), (5L * Region, Region)], Reads().Select(r => (r.Offset, r.Length)));
        Assert.Equal(PrimaryReplication.Resyncing, _primary.Replication);
        Assert.True(_primary.IsDegraded, "not protected until the resync is acknowledged");
    }

    [Fact]
    public void Acknowledgements_lost_with_the_link_are_taken_from_what_the_secondary_holds()
    {
        Write(1, 0, 0xA);
        CloseEpoch();                           // epoch 1 sent, its acknowledgement never arrives
        Write(2, 3 * Region, 0xB);
        _primary.OnSecondaryLost("link cut");

        Assert.Null(_primary.BeginResync(secondaryEpoch: 1, secondaryLastSequence: 1, secondaryBufferBytes: Bound));

        Assert.Equal(1, _primary.LastAcknowledgedEpoch);
        Assert.Equal([3L * Region], Reads().Select(r => r.Offset));
    }

    [Fact]
    public void A_guest_write_overlapping_a_resync_read_waits_for_it_and_follows_it_in_the_sequence()
    {
        _primary = NewPrimary(readsInFlight: 1);
        Write(1, 0, 0xA);
        Write(2, 3 * Region, 0xC);              // a second region keeps the resync (and the epoch) open
        _primary.OnSecondaryLost("link cut");
        _primary.BeginResync(0, 0, Bound);
        (long readId, _, _) = Assert.Single(Reads());
        _actions.ClearReceivedCalls();

        _primary.Submit(3, BlockRequest.Write(4096, 4096), Filled(4096, 0xB));
        Assert.DoesNotContain(3L, _actions.Issued());

        _primary.OnResyncReadCompleted(readId, true, Filled(Region, 0xA));
        Assert.Contains(3L, _actions.Issued());
        _primary.OnLocalCompleted(3, true);

        List<MirrorRecord> mirrors = _actions.Mirrors();
        Assert.Equal([(BlockOp.Write, 0L, Region), (BlockOp.Write, 4096L, 4096)], mirrors.Select(m => (m.Request.Op, m.Request.Offset, m.Request.Length)));
        Assert.Equal(mirrors[0].Sequence + 1, mirrors[1].Sequence);
        Assert.All(mirrors[0].Payload.ToArray(), b => Assert.Equal(0xA, b));
    }

    [Fact]
    public void A_resync_read_waits_for_a_write_in_flight_since_before_the_loss_which_is_never_mirrored()
    {
        Write(1, 0, 0xA, complete: false);
        _primary.OnSecondaryLost("link cut");
        _primary.BeginResync(0, 0, Bound);
        Assert.Empty(Reads());

        _primary.OnLocalCompleted(1, true);

        Assert.Single(Reads());
        Assert.Empty(_actions.Mirrors());
    }

    [Fact]
    public void The_first_checkpoint_captures_the_whole_VM_and_the_pair_is_protected_once_the_last_copy_commits()
    {
        _primary = NewPrimary(readsInFlight: 1);
        Write(1, 0, 0xA);
        Write(2, Region, 0xB);
        _primary.OnSecondaryLost("link cut");
        _primary.BeginResync(0, 0, Bound);
        ResyncPlan plan = Plan();

        // Epoch 1 of the resync: one region copied, one still to go.
        long first = _primary.RequestCheckpoint(CheckpointTrigger.Explicit);
        CompleteReads(0xA);
        _actions.Received(1).CaptureWholeVmState(first);
        _primary.OnVmCaptured(first, new VmSnapshot(first, [], []));
        CheckpointRecord firstCheckpoint = _actions.Checkpoints()[^1];
        Assert.Equal(plan.FirstEpoch, firstCheckpoint.Epoch);
        Assert.True(firstCheckpoint.StartsResync);
        Assert.True(firstCheckpoint.ResyncPending);
        _primary.OnCheckpointAcknowledged(first);
        Assert.Equal(PrimaryReplication.Resyncing, _primary.Replication);
        _actions.DidNotReceive().PairProtected(Arg.Any<long>());

        // Epoch 2: the last region; its acknowledgement protects the pair.
        long second = _primary.RequestCheckpoint(CheckpointTrigger.Explicit);
        CompleteReads(0xB);
        _actions.Received(1).CaptureVmState(second);
        _primary.OnVmCaptured(second, new VmSnapshot(second, [], []));
        CheckpointRecord secondCheckpoint = _actions.Checkpoints()[^1];
        Assert.False(secondCheckpoint.StartsResync);
        Assert.False(secondCheckpoint.ResyncPending);
        _primary.OnCheckpointAcknowledged(second);

        _actions.Received(1).PairProtected(second);
        Assert.Equal(PrimaryReplication.Protected, _primary.Replication);
        Assert.Null(_primary.DegradedReason);
        Assert.Empty(_primary.RegionsSecondaryMayLack());
    }

    [Fact]
    public void Under_the_hold_policy_output_waits_for_protection_not_merely_for_a_commit()
    {
        _primary = NewPrimary(DegradedOutputPolicy.Hold, readsInFlight: 1);
        Write(1, 0, 0xA);
        Write(2, Region, 0xB);
        _primary.OnSecondaryLost("link cut");
        _primary.BeginResync(0, 0, Bound);
        _primary.SubmitOutput(7);

        long first = _primary.RequestCheckpoint(CheckpointTrigger.Explicit);
        CompleteReads(0xA);
        _primary.OnVmCaptured(first, new VmSnapshot(first, [], []));
        _primary.OnCheckpointAcknowledged(first);
        _actions.DidNotReceive().ReleaseOutput(7, Arg.Any<bool>());

        long second = _primary.RequestCheckpoint(CheckpointTrigger.Explicit);
        CompleteReads(0xB);
        _primary.OnVmCaptured(second, new VmSnapshot(second, [], []));
        _primary.OnCheckpointAcknowledged(second);
        _actions.Received(1).ReleaseOutput(7, protectedByReplica: true);
    }

    [Fact]
    public void Resync_reads_are_charged_credit_and_wait_for_it()
    {
        for (int i = 0; i < 8; i++)
        {
            Write(i + 1, i * Region, (byte)i);
        }

        _primary.OnSecondaryLost("link cut");
        long bound = 2 * (Geometry.MaxRequestBytes + MirrorRecord.RecordOverheadBytes);
        _primary.BeginResync(0, 0, bound);

        Assert.InRange(Reads().Count, 1, 2);
        Assert.InRange(_primary.CreditAvailable, 0, bound - Region);
        _actions.Received().PauseGuest(); // the epoch is closed so the secondary can commit it and return the credit
    }

    [Fact]
    public void Losing_the_link_mid_resync_keeps_every_region_not_yet_committed_for_the_next_one()
    {
        _primary = NewPrimary(readsInFlight: 1);
        Write(1, 2 * Region, 0xA);
        Write(2, 5 * Region, 0xB);
        Write(3, 7 * Region, 0xC);
        _primary.OnSecondaryLost("link cut");
        _primary.BeginResync(0, 0, Bound);

        long first = _primary.RequestCheckpoint(CheckpointTrigger.Explicit);
        CompleteReads(0xA);                     // region 2 copied in the first epoch
        _primary.OnVmCaptured(first, new VmSnapshot(first, [], []));
        _primary.OnCheckpointAcknowledged(first);
        Write(4, 9 * Region, 0xD);              // region 5 is being read, region 7 waits its turn
        _primary.OnSecondaryLost("link cut again");

        Assert.Equal([5L, 7, 9], _primary.RegionsSecondaryMayLack());
    }

    [Fact]
    public void A_failed_resync_read_degrades_and_its_region_stays_to_be_copied()
    {
        Write(1, 0, 0xA);
        _primary.OnSecondaryLost("link cut");
        _primary.BeginResync(0, 0, Bound);
        (long readId, _, _) = Assert.Single(Reads());

        _primary.OnResyncReadCompleted(readId, false, default);

        Assert.Equal(PrimaryReplication.Degraded, _primary.Replication);
        Assert.Contains("could not be read", _primary.DegradedReason, StringComparison.Ordinal);
        Assert.Equal([0L], _primary.RegionsSecondaryMayLack());
    }

    [Theory]
    [InlineData(5, 1, "never sent")]
    [InlineData(0, 0, "lost committed checkpoints")]
    public void A_secondary_with_another_history_or_that_lost_commits_is_refused_and_the_primary_stays_degraded(long epoch, long sequence, string reason)
    {
        Write(1, 0, 0xA);
        CloseEpoch();
        _primary.OnCheckpointAcknowledged(1);
        _primary.OnSecondaryLost("link cut");

        ResyncRefusal? refused = _primary.BeginResync(epoch, sequence, Bound);

        Assert.Contains(reason, refused?.Reason, StringComparison.Ordinal);
        Assert.Equal(PrimaryReplication.Degraded, _primary.Replication);
        _actions.DidNotReceive().SendResyncStart(Arg.Any<ResyncPlan>());
    }

    [Fact]
    public void A_resync_only_begins_after_the_secondary_was_lost()
    {
        Assert.Throws<InvalidOperationException>(() => _primary.BeginResync(0, 0, Bound));
    }

    [Fact]
    public void A_resync_asked_for_while_a_checkpoint_of_the_lost_link_drains_starts_between_epochs()
    {
        Write(1, 0, 0xA, complete: false);
        _primary.RequestCheckpoint(CheckpointTrigger.Explicit);
        _primary.OnSecondaryLost("link cut");
        Assert.Null(_primary.BeginResync(0, 0, Bound));
        _actions.DidNotReceive().SendResyncStart(Arg.Any<ResyncPlan>());

        _primary.OnLocalCompleted(1, true);

        Assert.Equal(2, Plan().FirstEpoch);
        Assert.Single(Reads());
    }

    [Fact]
    public void With_nothing_to_copy_the_first_epoch_is_closed_at_once_and_its_acknowledgement_protects()
    {
        Write(1, 0, 0xA);
        CloseEpoch();
        _primary.OnSecondaryLost("link cut");   // the acknowledgement of epoch 1 was lost with the link

        _primary.BeginResync(1, 1, Bound);
        Assert.Equal(0, Plan().Regions);
        _actions.Received(1).CaptureWholeVmState(Plan().FirstEpoch);
        _primary.OnVmCaptured(Plan().FirstEpoch, new VmSnapshot(Plan().FirstEpoch, [], []));
        _primary.OnCheckpointAcknowledged(Plan().FirstEpoch);

        Assert.Equal(PrimaryReplication.Protected, _primary.Replication);
    }

    [Fact]
    public void Once_the_last_copy_is_admitted_its_epoch_is_closed_without_waiting_for_the_interval()
    {
        Write(1, 0, 0xA);
        _primary.OnSecondaryLost("link cut");
        _primary.BeginResync(0, 0, Bound);

        Assert.Equal(PrimaryPhase.Draining, _primary.Phase);
        CompleteReads(0xA);
        _actions.Received(1).CaptureWholeVmState(Plan().FirstEpoch);
    }
}
