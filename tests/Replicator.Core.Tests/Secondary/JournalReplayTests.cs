using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Tests.Support;
using static Replicator.Core.Tests.Support.Records;

namespace Replicator.Core.Tests.Secondary;

/// <summary>
/// Start-up replay of the journal's committed entries (<see cref="SecondaryEngine.RecoverCommittedEpoch"/>):
/// an entry is taken only when it continues exactly where the node stands — no gap, no overlap in
/// epochs or sequence numbers, its records exactly the range its checkpoint names, its digest right.
/// Anything else is a journal that cannot be trusted, and start-up must stop rather than replay it.
/// </summary>
public class JournalReplayTests
{
    private readonly RecordingSecondaryActions _actions = new();

    private SecondaryEngine NewSecondary(long appliedEpoch = 0, long appliedLastSequence = 0) =>
        new(new SecondaryOptions { Geometry = Geometry, BufferCapacityBytes = 1 << 20 }, _actions, appliedEpoch, appliedLastSequence);

    [Fact]
    public void Entries_that_follow_each_other_replay_in_order_and_each_applies_after_the_one_before()
    {
        SecondaryEngine secondary = NewSecondary();
        MirrorRecord a = Write(1, 1, 0, 0xA);
        MirrorRecord b = Write(1, 2, 4096, 0xB);
        MirrorRecord c = Write(2, 3, 0, 0xC);
        secondary.RecoverCommittedEpoch(CheckpointFor(1, 1, 2, a, b), [a, b]);
        secondary.RecoverCommittedEpoch(CheckpointFor(2, 3, 3, c), [c]);

        Assert.Equal((2L, 3L), (secondary.LastCommittedEpoch, secondary.LastCommittedSequence));
        Assert.Equal(a.BufferCost + b.BufferCost + c.BufferCost, secondary.BufferedBytes);
        Assert.Equal(["write 1", "write 2", "flush", "vm 1", "applied 1@2"], _actions.Log);

        secondary.OnApplied(1);
        Assert.Equal(["write 3", "flush", "vm 2", "applied 2@3"], _actions.Log.Skip(5).Where(l => !l.StartsWith("credit", StringComparison.Ordinal)));
        Assert.Empty(_actions.Acks); // replay acknowledges nothing: the primary learns where the node stands from its welcome
    }

    [Fact]
    public void An_entry_continues_from_the_checkpoint_the_image_already_holds()
    {
        SecondaryEngine secondary = NewSecondary(appliedEpoch: 5, appliedLastSequence: 20);
        MirrorRecord next = Write(6, 21, 0, 0xA);
        secondary.RecoverCommittedEpoch(CheckpointFor(6, 21, 21, next), [next]);
        Assert.Equal(6, secondary.LastCommittedEpoch);

        SecondaryEngine other = NewSecondary(appliedEpoch: 5, appliedLastSequence: 20);
        MirrorRecord skipping = Write(6, 22, 0, 0xA);
        Assert.Throws<InvalidOperationException>(() => other.RecoverCommittedEpoch(CheckpointFor(6, 22, 22, skipping), [skipping]));
    }

    [Fact]
    public void An_entry_whose_first_sequence_leaves_a_gap_is_refused()
    {
        SecondaryEngine secondary = NewSecondary();
        MirrorRecord a = Write(1, 1, 0, 0xA);
        secondary.RecoverCommittedEpoch(CheckpointFor(1, 1, 1, a), [a]);

        MirrorRecord gap = Write(2, 3, 0, 0xB); // sequence 2 was never journalled
        var error = Assert.Throws<InvalidOperationException>(() => secondary.RecoverCommittedEpoch(CheckpointFor(2, 3, 3, gap), [gap]));
        Assert.Contains("does not follow epoch 1 ending at sequence 1", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, secondary.LastCommittedEpoch);
    }

    [Fact]
    public void An_entry_whose_sequence_overlaps_the_previous_one_is_refused()
    {
        SecondaryEngine secondary = NewSecondary();
        MirrorRecord a = Write(1, 1, 0, 0xA);
        MirrorRecord b = Write(1, 2, 0, 0xB);
        secondary.RecoverCommittedEpoch(CheckpointFor(1, 1, 2, a, b), [a, b]);

        MirrorRecord again = Write(2, 2, 0, 0xC);
        Assert.Throws<InvalidOperationException>(() => secondary.RecoverCommittedEpoch(CheckpointFor(2, 2, 2, again), [again]));
    }

    [Theory]
    [InlineData(1)] // the same epoch twice
    [InlineData(3)] // epoch 2 missing
    public void An_entry_whose_epoch_does_not_come_next_is_refused(long epoch)
    {
        SecondaryEngine secondary = NewSecondary();
        MirrorRecord a = Write(1, 1, 0, 0xA);
        secondary.RecoverCommittedEpoch(CheckpointFor(1, 1, 1, a), [a]);

        MirrorRecord b = Write(epoch, 2, 0, 0xB);
        Assert.Throws<InvalidOperationException>(() => secondary.RecoverCommittedEpoch(CheckpointFor(epoch, 2, 2, b), [b]));
        Assert.Equal(1, secondary.LastCommittedEpoch);
    }

    [Fact]
    public void An_entry_missing_a_record_of_its_range_is_refused()
    {
        SecondaryEngine secondary = NewSecondary();
        MirrorRecord a = Write(1, 1, 0, 0xA);
        MirrorRecord b = Write(1, 2, 0, 0xB);
        Assert.Throws<InvalidOperationException>(() => secondary.RecoverCommittedEpoch(CheckpointFor(1, 1, 2, a, b), [a]));
        Assert.Equal(0, secondary.LastCommittedEpoch);
        Assert.Empty(_actions.ImageWrites);
    }

    [Fact]
    public void An_entry_holding_one_sequence_number_twice_is_refused_even_when_the_count_matches()
    {
        SecondaryEngine secondary = NewSecondary();
        MirrorRecord a = Write(1, 1, 0, 0xA);
        MirrorRecord b = Write(1, 2, 0, 0xB);
        var error = Assert.Throws<InvalidOperationException>(() => secondary.RecoverCommittedEpoch(CheckpointFor(1, 1, 2, a, b), [a, a]));
        Assert.Contains("repeats sequence number 1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_entry_holding_a_record_outside_its_range_is_refused_even_when_the_count_matches()
    {
        SecondaryEngine secondary = NewSecondary();
        MirrorRecord a = Write(1, 1, 0, 0xA);
        MirrorRecord outside = Write(1, 3, 0, 0xB);
        Assert.Throws<InvalidOperationException>(() => secondary.RecoverCommittedEpoch(CheckpointFor(1, 1, 2, a, outside), [a, outside]));
    }

    [Fact]
    public void An_entry_whose_record_header_was_altered_does_not_match_its_digest()
    {
        SecondaryEngine secondary = NewSecondary();
        MirrorRecord written = Write(1, 1, 0, 0xA);
        MirrorRecord moved = written with { Request = written.Request with { Offset = 8192 } };
        Assert.Throws<InvalidOperationException>(() => secondary.RecoverCommittedEpoch(CheckpointFor(1, 1, 1, written), [moved]));
    }

    [Fact]
    public void Records_journalled_out_of_order_are_applied_in_sequence_order()
    {
        SecondaryEngine secondary = NewSecondary();
        MirrorRecord a = Write(1, 1, 0, 0xA);
        MirrorRecord b = Write(1, 2, 512, 0xB);
        MirrorRecord c = Write(1, 3, 1024, 0xC);
        secondary.RecoverCommittedEpoch(CheckpointFor(1, 1, 3, a, b, c), [c, a, b]);
        Assert.Equal([1L, 2, 3], _actions.ImageWrites.Select(w => w.Sequence));
    }

    [Fact]
    public void The_first_entry_of_a_resync_may_jump_forward_in_epoch_and_sequence()
    {
        SecondaryEngine secondary = NewSecondary(appliedEpoch: 4, appliedLastSequence: 10);
        MirrorRecord first = Write(9, 40, 0, 0xA);
        secondary.RecoverCommittedEpoch(CheckpointFor(9, 40, 40, first) with { StartsResync = true, ResyncPending = true }, [first]);

        Assert.Equal((9L, 40L), (secondary.LastCommittedEpoch, secondary.LastCommittedSequence));
        Assert.True(secondary.CommittedMidResync);
        Assert.NotNull(secondary.Promote()); // mid-resync: no checkpoint to take over from
    }

    [Theory]
    [InlineData(4, 40)] // the epoch does not move forward
    [InlineData(9, 10)] // the sequence does not move forward
    [InlineData(3, 5)]  // both go back
    public void The_first_entry_of_a_resync_must_still_move_forward_in_both(long epoch, long firstSequence)
    {
        SecondaryEngine secondary = NewSecondary(appliedEpoch: 4, appliedLastSequence: 10);
        MirrorRecord first = Write(epoch, firstSequence, 0, 0xA);
        Assert.Throws<InvalidOperationException>(() =>
            secondary.RecoverCommittedEpoch(CheckpointFor(epoch, firstSequence, firstSequence, first) with { StartsResync = true }, [first]));
        Assert.Equal(4, secondary.LastCommittedEpoch);
    }

    [Fact]
    public void A_replayed_resync_that_ended_leaves_a_node_that_may_be_promoted_to_its_last_entry()
    {
        SecondaryEngine secondary = NewSecondary();
        MirrorRecord first = Write(3, 10, 0, 0xA);
        MirrorRecord last = Write(4, 11, 0, 0xB);
        secondary.RecoverCommittedEpoch(CheckpointFor(3, 10, 10, first) with { StartsResync = true, ResyncPending = true }, [first]);
        secondary.RecoverCommittedEpoch(CheckpointFor(4, 11, 11, last), [last]);
        Assert.False(secondary.CommittedMidResync);

        Assert.Null(secondary.Promote());
        secondary.OnApplied(3);
        secondary.OnApplied(4);
        Assert.Equal([4L], _actions.Promotions);
    }
}
