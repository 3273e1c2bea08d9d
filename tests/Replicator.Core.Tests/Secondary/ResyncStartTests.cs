using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Tests.Support;
using static Replicator.Core.Tests.Support.Records;

namespace Replicator.Core.Tests.Secondary;

/// <summary>
/// The secondary's side of a resync: only an explicit resync start lets the numbers jump (I3 stays
/// whole otherwise), a promoted node refuses it (I6), and an image mid-resync is never promoted (I2).
/// </summary>
public class ResyncStartTests
{
    private readonly RecordingSecondaryActions _actions = new();
    private readonly SecondaryEngine _secondary;

    public ResyncStartTests()
    {
        _secondary = new SecondaryEngine(new SecondaryOptions { Geometry = Geometry, BufferCapacityBytes = 1 << 20 }, _actions);
        CommitEpoch(1, 1, 0xA);
    }

    private void CommitEpoch(long epoch, long sequence, byte fill, bool startsResync = false, bool resyncPending = false)
    {
        MirrorRecord write = Write(epoch, sequence, 0, fill);
        _secondary.OnMirror(write);
        _secondary.OnCheckpoint(CheckpointFor(epoch, sequence, sequence, write) with { StartsResync = startsResync, ResyncPending = resyncPending });
        _secondary.OnEpochPersisted(epoch);
    }

    [Fact]
    public void After_a_resync_start_the_new_stream_commits_despite_its_jump_in_numbers()
    {
        _secondary.OnPrimaryLost();
        Assert.Null(_secondary.OnResyncStart(baseEpoch: 1, firstEpoch: 5, firstSequence: 10));

        CommitEpoch(5, 10, 0xB, startsResync: true);

        Assert.Equal(5, _secondary.LastCommittedEpoch);
        Assert.Equal([1L, 5], _actions.Acks);
        Assert.Empty(_actions.Rejections);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Records_and_checkpoint_of_the_new_stream_that_overtake_its_resync_start_are_kept_and_commit(bool stalledFirst)
    {
        if (stalledFirst)
        {
            // A gap the old stream left: the node refuses it and stalls until a resync.
            MirrorRecord gap = Write(2, 10, 0, 0xC);
            _secondary.OnMirror(gap);
            _secondary.OnCheckpoint(CheckpointFor(2, 10, 10, gap));
            Assert.Equal(SecondaryPhase.Stalled, _secondary.Phase);
        }

        // A stale record of the old stream, then the new stream's first epoch, all ahead of the start.
        _secondary.OnMirror(Write(3, 11, 4096, 0xD));
        MirrorRecord early = Write(5, 20, 0, 0xB);
        Assert.Equal(MirrorOutcome.Buffered, _secondary.OnMirror(early));
        _secondary.OnCheckpoint(CheckpointFor(5, 20, 20, early) with { StartsResync = true });

        Assert.Null(_secondary.OnResyncStart(baseEpoch: 1, firstEpoch: 5, firstSequence: 20));
        _secondary.OnEpochPersisted(5);

        Assert.Equal(5, _secondary.LastCommittedEpoch);
        Assert.Equal(SecondaryPhase.Replicating, _secondary.Phase);
        // Epoch 1 (committed, not applied here) and epoch 5 are held; the old stream's epoch 3 went.
        Assert.Equal(2 * early.BufferCost, _secondary.BufferedBytes);
    }

    [Fact]
    public void Without_a_resync_start_the_same_jump_is_refused()
    {
        MirrorRecord write = Write(2, 10, 0, 0xB);
        _secondary.OnMirror(write);
        _secondary.OnCheckpoint(CheckpointFor(2, 10, 10, write));

        Assert.Equal(SecondaryPhase.Stalled, _secondary.Phase);
        Assert.Contains("sequence gap", Assert.Single(_actions.Rejections).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void The_first_epoch_after_a_resync_start_must_say_it_starts_the_resync()
    {
        _secondary.OnPrimaryLost();
        _secondary.OnResyncStart(1, 5, 10);

        MirrorRecord write = Write(5, 10, 0, 0xB);
        _secondary.OnMirror(write);
        _secondary.OnCheckpoint(CheckpointFor(5, 10, 10, write));

        Assert.Equal(1, _secondary.LastCommittedEpoch);
        Assert.Contains("resync", Assert.Single(_actions.Rejections).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_first_epoch_of_a_resync_that_overtook_its_start_waits_for_it_and_commits_after()
    {
        // The next epoch in line, marked as a resync's first: a lossy transport delivered it before
        // the start that announces it. Neither sealed nor refused until the start arrives.
        MirrorRecord write = Write(2, 2, 0, 0xB);
        _secondary.OnMirror(write);
        _secondary.OnCheckpoint(CheckpointFor(2, 2, 2, write) with { StartsResync = true, ResyncPending = true });
        Assert.Empty(_actions.Rejections);
        Assert.DoesNotContain("persist 2", _actions.Log);
        Assert.Equal(SecondaryPhase.Replicating, _secondary.Phase);

        Assert.Null(_secondary.OnResyncStart(baseEpoch: 1, firstEpoch: 2, firstSequence: 2));
        _secondary.OnEpochPersisted(2);

        Assert.Equal(2, _secondary.LastCommittedEpoch);
        Assert.Empty(_actions.Rejections);
    }

    [Fact]
    public void A_resync_s_first_epoch_whose_start_never_comes_holds_back_the_stream_until_the_open_epoch_bound_refuses_it()
    {
        MirrorRecord first = Write(2, 2, 0, 0xB);
        _secondary.OnMirror(first);
        _secondary.OnCheckpoint(CheckpointFor(2, 2, 2, first) with { StartsResync = true, ResyncPending = true });
        for (long epoch = 3; epoch <= 65; epoch++)
        {
            MirrorRecord write = Write(epoch, epoch, 0, 0xC);
            Assert.Equal(MirrorOutcome.Buffered, _secondary.OnMirror(write));
            _secondary.OnCheckpoint(CheckpointFor(epoch, epoch, epoch, write));
        }

        Assert.Equal(MirrorOutcome.Rejected, _secondary.OnMirror(Write(66, 66, 0, 0xD)));
        Assert.Equal(SecondaryPhase.Stalled, _secondary.Phase);
        Assert.Contains("ahead of the last sealed epoch 1", Assert.Single(_actions.Rejections).Reason, StringComparison.Ordinal);
        Assert.Equal(1, _secondary.LastCommittedEpoch);
    }

    [Fact]
    public void A_promoted_node_refuses_a_resync_start()
    {
        _secondary.Promote();

        Assert.Contains("promoted", _secondary.OnResyncStart(1, 5, 10), StringComparison.Ordinal);
    }

    [Fact]
    public void A_resync_start_from_a_checkpoint_this_node_does_not_hold_or_while_it_still_commits_is_refused()
    {
        Assert.Contains("holds 1", _secondary.OnResyncStart(0, 5, 10), StringComparison.Ordinal);

        MirrorRecord write = Write(2, 2, 0, 0xB);
        _secondary.OnMirror(write);
        _secondary.OnCheckpoint(CheckpointFor(2, 2, 2, write));   // sealed, journal write under way
        Assert.Contains("being committed", _secondary.OnResyncStart(1, 5, 10), StringComparison.Ordinal);
    }

    [Fact]
    public void A_resync_start_lifts_a_stall()
    {
        MirrorRecord bad = Write(2, 2, 0, 0xB);
        _secondary.OnMirror(bad);
        _secondary.OnCheckpoint(CheckpointFor(2, 2, 2, Write(2, 2, 0, 0xC)));   // digest mismatch
        Assert.Equal(SecondaryPhase.Stalled, _secondary.Phase);

        Assert.Null(_secondary.OnResyncStart(1, 5, 10));
        Assert.Equal(SecondaryPhase.Replicating, _secondary.Phase);
        Assert.Null(_secondary.StallReason);
        CommitEpoch(5, 10, 0xD, startsResync: true);
        Assert.Equal(5, _secondary.LastCommittedEpoch);
    }

    [Fact]
    public void Losing_the_primary_discards_the_open_epochs_and_frees_their_buffer()
    {
        _secondary.OnMirror(Write(2, 2, 0, 0xB));
        Assert.True(_secondary.BufferedBytes > 0);
        _secondary.OnApplied(1);

        _secondary.OnPrimaryLost();

        Assert.Equal(0, _secondary.BufferedBytes);
        Assert.Equal(0, _secondary.OpenEpochCount);
    }

    [Fact]
    public void Promotion_is_refused_while_the_image_is_mid_resync_and_lands_on_the_epoch_that_completed_it()
    {
        _secondary.OnPrimaryLost();
        _secondary.OnResyncStart(1, 5, 10);
        Assert.True(_secondary.IsResyncing);

        CommitEpoch(5, 10, 0xB, startsResync: true, resyncPending: true);
        Assert.Contains("middle of a resync", _secondary.Promote(), StringComparison.Ordinal);
        Assert.Equal(SecondaryPhase.Replicating, _secondary.Phase);

        CommitEpoch(6, 11, 0xC);
        Assert.False(_secondary.IsResyncing);
        Assert.Null(_secondary.Promote());
        _secondary.OnApplied(1);
        // Epochs 5 and 6 committed while 1 was written back: one batch.
        _secondary.OnApplied(6);
        Assert.Equal([6L], _actions.Promotions);
    }

    [Fact]
    public void Before_any_resync_epoch_is_sealed_promotion_still_lands_on_the_checkpoint_held()
    {
        _secondary.OnPrimaryLost();
        _secondary.OnResyncStart(1, 5, 10);

        Assert.Null(_secondary.Promote());
        _secondary.OnApplied(1);
        Assert.Equal([1L], _actions.Promotions);
    }

    [Fact]
    public void A_journal_replay_accepts_the_jump_only_where_a_resync_started()
    {
        var options = new SecondaryOptions { Geometry = Geometry, BufferCapacityBytes = 1 << 20 };
        MirrorRecord write = Write(5, 10, 0, 0xB);
        CheckpointRecord jump = CheckpointFor(5, 10, 10, write);

        var replayed = new SecondaryEngine(options, new RecordingSecondaryActions(), appliedEpoch: 1, appliedLastSequence: 1);
        replayed.RecoverCommittedEpoch(jump with { StartsResync = true, ResyncPending = true }, [write]);
        Assert.Equal(5, replayed.LastCommittedEpoch);
        Assert.True(replayed.CommittedMidResync);
        Assert.NotNull(replayed.Promote());

        var refused = new SecondaryEngine(options, new RecordingSecondaryActions(), appliedEpoch: 1, appliedLastSequence: 1);
        Assert.Throws<InvalidOperationException>(() => refused.RecoverCommittedEpoch(jump, [write]));
    }
}
