using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Tests.Support;
using static Replicator.Core.Tests.Support.Records;

namespace Replicator.Core.Tests.Secondary;

/// <summary>
/// What the secondary does when its journal fails, or when the stream stalls with epochs still
/// being journalled: nothing not durable is acknowledged, everything durable is, and a failover
/// still lands on the last committed epoch.
/// </summary>
public class JournalFailureTests
{
    private readonly RecordingSecondaryActions _actions = new();
    private readonly SecondaryEngine _secondary;

    public JournalFailureTests() =>
        _secondary = new SecondaryEngine(new SecondaryOptions { Geometry = Geometry, BufferCapacityBytes = 1 << 20 }, _actions);

    [Fact]
    public void A_failed_journal_write_drops_every_epoch_behind_it_without_returning_their_credit()
    {
        _secondary.Seal(1, 1, Write(1, 1, 0, 0xA));
        _secondary.Seal(2, 2, Write(2, 2, 0, 0xB));
        Assert.Equal(2, _secondary.EpochsBeingCommitted);

        _secondary.OnPersistFailed(1, "I/O error");
        Assert.Equal(0, _secondary.EpochsBeingCommitted);
        Assert.Equal(0, _secondary.BufferedBytes);
        Assert.Equal(0, _actions.CreditReturned); // the link is refused; the credit dies with it
        Assert.Equal(0, _secondary.LastCommittedEpoch);
        Assert.Empty(_actions.Acks);
        Assert.Empty(_actions.ImageWrites);
    }

    [Fact]
    public void A_second_failure_report_for_an_epoch_already_dropped_is_ignored()
    {
        _secondary.Seal(1, 1, Write(1, 1, 0, 0xA));
        _secondary.Seal(2, 2, Write(2, 2, 0, 0xB));
        _secondary.OnPersistFailed(1, "I/O error");
        _secondary.OnPersistFailed(2, "I/O error");

        Assert.Single(_actions.Rejections);
        Assert.Equal(1, _actions.Rejections[0].Epoch);
    }

    [Fact]
    public void A_failure_report_for_an_epoch_not_being_journalled_leaves_the_ones_that_are_alone()
    {
        _secondary.Seal(1, 1, Write(1, 1, 0, 0xA));
        _secondary.OnPersistFailed(7, "stale report");

        Assert.Equal(1, _secondary.EpochsBeingCommitted);
        Assert.Equal(SecondaryPhase.Replicating, _secondary.Phase);
        _secondary.OnEpochPersisted(1);
        Assert.Equal([1L], _actions.Acks);
    }

    [Fact]
    public void A_failed_journal_write_gives_the_pooled_payloads_back()
    {
        var owners = new[] { new CountingOwner(), new CountingOwner() };
        MirrorRecord a = Write(1, 1, 0, 0xA);
        MirrorRecord b = Write(2, 2, 0, 0xB);
        _secondary.OnMirror(a, owners[0]);
        _secondary.OnCheckpoint(CheckpointFor(1, 1, 1, a));
        _secondary.OnMirror(b, owners[1]);
        _secondary.OnCheckpoint(CheckpointFor(2, 2, 2, b));

        _secondary.OnPersistFailed(1, "I/O error");
        Assert.All(owners, o => Assert.Equal(1, o.Disposed));
    }

    [Fact]
    public void A_failure_after_some_epochs_committed_keeps_those_and_refuses_any_resync()
    {
        _secondary.Seal(1, 1, Write(1, 1, 0, 0xA));
        _secondary.OnEpochPersisted(1);
        _secondary.Seal(2, 2, Write(2, 2, 0, 0xB));
        _secondary.OnPersistFailed(2, "no space");

        Assert.Equal(1, _secondary.LastCommittedEpoch);
        Assert.Equal([1L], _actions.Acks);
        Assert.Equal(SecondaryPhase.Stalled, _secondary.Phase);
        string? refusal = _secondary.OnResyncStart(baseEpoch: 1, firstEpoch: 3, firstSequence: 3);
        Assert.NotNull(refusal);
        Assert.Contains("journal failed", refusal, StringComparison.Ordinal);
        Assert.Equal(SecondaryPhase.Stalled, _secondary.Phase);
    }

    [Fact]
    public void A_node_whose_journal_failed_takes_no_more_records_or_checkpoints_and_rejects_nothing_more()
    {
        _secondary.Seal(1, 1, Write(1, 1, 0, 0xA));
        _secondary.OnPersistFailed(1, "no space");
        int rejections = _actions.Rejections.Count;

        // A new stream's frames ahead of its (refused) resync start, even far beyond the open-epoch window.
        MirrorRecord far = Write(500, 900, 0, 0xC);
        Assert.Equal(MirrorOutcome.Refused, _secondary.OnMirror(far));
        Assert.Equal(MirrorOutcome.Refused, _secondary.OnCheckpoint(CheckpointFor(500, 900, 900, far)));

        Assert.Equal(rejections, _actions.Rejections.Count);
        Assert.Equal(0, _secondary.BufferedBytes);
    }

    [Fact]
    public void A_node_whose_journal_failed_still_fails_over_to_its_last_committed_epoch()
    {
        _secondary.Seal(1, 1, Write(1, 1, 0, 0xA));
        _secondary.OnEpochPersisted(1);
        _secondary.Seal(2, 2, Write(2, 2, 0, 0xB));
        _secondary.OnPersistFailed(2, "no space");

        Assert.Null(_secondary.Promote());
        _secondary.OnApplied(1);
        Assert.Equal([1L], _actions.Promotions);
        Assert.DoesNotContain(_actions.ImageWrites, w => w.Epoch == 2);
    }

    [Fact]
    public void A_journal_failure_during_promotion_ends_the_promotion_at_the_last_committed_epoch()
    {
        _secondary.Seal(1, 1, Write(1, 1, 0, 0xA));
        _secondary.OnEpochPersisted(1);
        _secondary.OnApplied(1);
        _secondary.Seal(2, 2, Write(2, 2, 0, 0xB));
        Assert.Null(_secondary.Promote());
        Assert.Empty(_actions.Promotions); // waits for epoch 2's journal write

        _secondary.OnPersistFailed(2, "I/O error");
        Assert.Equal([1L], _actions.Promotions);
        Assert.Equal(SecondaryPhase.Promoted, _secondary.Phase);
        Assert.Empty(_actions.Rejections); // no primary to tell any more
    }

    [Fact]
    public void An_epoch_sealed_before_a_stall_is_acknowledged_when_it_commits_and_its_credit_is_kept_back()
    {
        MirrorRecord a = Write(1, 1, 0, 0xA);
        _secondary.Seal(1, 1, a);
        _secondary.OnMirror(Write(2, 2, 0, 0xB));
        _secondary.OnCheckpoint(CheckpointFor(2, 2, 2, Write(2, 2, 0, 0xC))); // digest mismatch: stalls
        Assert.Equal(SecondaryPhase.Stalled, _secondary.Phase);

        _secondary.OnEpochPersisted(1);
        Assert.Equal([1L], _actions.Acks);
        _secondary.OnApplied(1);
        Assert.Equal(0, _actions.CreditReturned); // the stalled stream gets no more credit
        Assert.Equal(0, _secondary.BufferedBytes);
    }

    [Fact]
    public void Credit_returns_exactly_the_applied_epochs_bytes()
    {
        MirrorRecord a = Write(1, 1, 0, 0xA, length: 8192);
        MirrorRecord b = Write(2, 2, 0, 0xB);
        _secondary.Seal(1, 1, a);
        _secondary.Seal(2, 2, b);
        _secondary.OnEpochPersisted(1);
        _secondary.OnEpochPersisted(2);

        _secondary.OnApplied(1);
        Assert.Equal(a.BufferCost, _actions.CreditReturned);
        Assert.Equal(b.BufferCost, _secondary.BufferedBytes);
        _secondary.OnApplied(2);
        Assert.Equal(a.BufferCost + b.BufferCost, _actions.CreditReturned);
        Assert.Equal(2, _secondary.LastAppliedEpoch);
    }

    [Fact]
    public void An_applied_report_for_an_epoch_not_being_applied_is_a_driver_bug()
    {
        _secondary.Seal(1, 1, Write(1, 1, 0, 0xA));
        var error = Assert.Throws<InvalidOperationException>(() => _secondary.OnApplied(1)); // not yet committed
        Assert.Equal("epoch 1 reported applied, but the batch being written back ends at none", error.Message);

        _secondary.OnEpochPersisted(1);
        Assert.Throws<InvalidOperationException>(() => _secondary.OnApplied(2));
        _secondary.OnApplied(1);
        Assert.Equal(1, _secondary.LastAppliedEpoch);
    }

    [Fact]
    public void A_persisted_report_with_nothing_being_journalled_is_a_driver_bug()
    {
        var error = Assert.Throws<InvalidOperationException>(() => _secondary.OnEpochPersisted(1));
        Assert.Contains("none", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Committing_the_epoch_that_ends_a_resync_ends_it_and_one_still_pending_does_not()
    {
        Assert.Null(_secondary.OnResyncStart(baseEpoch: 0, firstEpoch: 5, firstSequence: 10));
        Assert.True(_secondary.IsResyncing);

        MirrorRecord first = Write(5, 10, 0, 0xA);
        _secondary.Seal(CheckpointFor(5, 10, 10, first) with { StartsResync = true, ResyncPending = true }, first);
        _secondary.OnEpochPersisted(5);
        Assert.True(_secondary.CommittedMidResync);
        Assert.True(_secondary.IsResyncing);
        Assert.Equal(10, _secondary.LastCommittedSequence);

        MirrorRecord last = Write(6, 11, 0, 0xB);
        _secondary.Seal(CheckpointFor(6, 11, 11, last), last);
        _secondary.OnEpochPersisted(6);
        Assert.False(_secondary.CommittedMidResync);
        Assert.False(_secondary.IsResyncing);
        Assert.Equal([5L, 6], _actions.Acks);
    }

    [Fact]
    public void A_resync_completed_by_its_first_epoch_ends_when_that_epoch_commits()
    {
        Assert.Null(_secondary.OnResyncStart(baseEpoch: 0, firstEpoch: 5, firstSequence: 10));
        MirrorRecord only = Write(5, 10, 0, 0xA);
        _secondary.Seal(CheckpointFor(5, 10, 10, only) with { StartsResync = true }, only);
        Assert.True(_secondary.IsResyncing);

        _secondary.OnEpochPersisted(5);
        Assert.False(_secondary.IsResyncing);
        Assert.False(_secondary.CommittedMidResync);
    }
}
