using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Tests.Support;
using static Replicator.Core.Tests.Support.Records;

namespace Replicator.Core.Tests.Secondary;

/// <summary>I2 and I6 at the secondary: failover lands on one checkpoint and takes nothing from the old primary.</summary>
public class FailoverTests
{
    private readonly RecordingSecondaryActions _actions = new();
    private readonly SecondaryEngine _secondary;

    public FailoverTests() =>
        _secondary = new SecondaryEngine(new SecondaryOptions { Geometry = Geometry, BufferCapacityBytes = 1 << 20 }, _actions);

    [Fact]
    public void Promote_discards_incomplete_epochs_drains_committed_ones_then_reports_the_checkpoint()
    {
        MirrorRecord a = Write(1, 1, 0, 0xA);
        _secondary.OnMirror(a);
        _secondary.OnCheckpoint(CheckpointFor(1, 1, 1, a));
        _secondary.OnEpochPersisted(1);
        _secondary.OnMirror(Write(2, 2, 0, 0xB)); // epoch 2 never closed

        _secondary.Promote();
        Assert.Equal(SecondaryPhase.Promoting, _secondary.Phase);
        Assert.Empty(_actions.Promotions);

        _secondary.OnApplied(1);
        Assert.Equal([1L], _actions.Promotions);
        Assert.Equal(SecondaryPhase.Promoted, _secondary.Phase);
        Assert.Equal(0, _secondary.BufferedBytes);
        Assert.DoesNotContain(_actions.ImageWrites, r => r.Epoch == 2);
    }

    [Fact]
    public void An_epoch_sealed_before_promotion_still_commits_because_its_checkpoint_was_started()
    {
        MirrorRecord a = Write(1, 1, 0, 0xA);
        _secondary.OnMirror(a);
        _secondary.OnCheckpoint(CheckpointFor(1, 1, 1, a));
        _secondary.Promote();

        _secondary.OnEpochPersisted(1);
        _secondary.OnApplied(1);
        Assert.Equal([1L], _actions.Promotions);
        Assert.Empty(_actions.Acks); // no primary to tell any more
    }

    [Fact]
    public void After_promotion_nothing_from_the_old_primary_is_taken()
    {
        _secondary.Promote();
        MirrorRecord a = Write(1, 1, 0, 0xA);

        Assert.Equal(MirrorOutcome.Refused, _secondary.OnMirror(a));
        Assert.Equal(MirrorOutcome.Refused, _secondary.OnCheckpoint(CheckpointFor(1, 1, 1, a)));
        Assert.Equal([0L], _actions.Promotions);
    }

    [Fact]
    public void A_stalled_secondary_still_fails_over_to_its_last_committed_epoch()
    {
        MirrorRecord a = Write(1, 1, 0, 0xA);
        _secondary.OnMirror(a);
        _secondary.OnCheckpoint(CheckpointFor(1, 1, 1, a));
        _secondary.OnEpochPersisted(1);
        _secondary.OnApplied(1);
        MirrorRecord b = Write(2, 2, 0, 0xB);
        _secondary.OnMirror(b);
        _secondary.OnCheckpoint(CheckpointFor(2, 2, 2, Write(2, 2, 0, 0xC)));
        Assert.Equal(SecondaryPhase.Stalled, _secondary.Phase);

        _secondary.Promote();
        Assert.Equal([1L], _actions.Promotions);
    }

    [Fact]
    public void Every_committed_epoch_waiting_to_be_applied_lands_in_the_image_before_the_promotion_is_reported()
    {
        for (long e = 1; e <= 3; e++)
        {
            MirrorRecord record = Write(e, e, (e - 1) * 4096, (byte)e);
            _secondary.OnMirror(record);
            _secondary.OnCheckpoint(CheckpointFor(e, e, e, record));
            _secondary.OnEpochPersisted(e);
        }

        Assert.Null(_secondary.Promote());
        _secondary.OnApplied(1);
        Assert.Empty(_actions.Promotions);
        // Epochs 2 and 3 committed while 1 was written back: one batch, one state record for both.
        Assert.Throws<InvalidOperationException>(() => _secondary.OnApplied(2));
        _secondary.OnApplied(3);

        Assert.Equal([3L], _actions.Promotions);
        Assert.Equal([1L, 2, 3], _actions.ImageWrites.Select(w => w.Epoch));
        Assert.Equal(["vm 1", "vm 2", "vm 3"], _actions.Log.Where(l => l.StartsWith("vm", StringComparison.Ordinal)));
    }

    [Fact]
    public void Promoting_twice_reports_one_promotion()
    {
        Assert.Null(_secondary.Promote());
        Assert.Null(_secondary.Promote());
        Assert.Equal([0L], _actions.Promotions);
        Assert.Equal(SecondaryPhase.Promoted, _secondary.Phase);
    }

    [Fact]
    public void A_node_mid_resync_refuses_promotion_and_keeps_following()
    {
        Assert.Null(_secondary.OnResyncStart(baseEpoch: 0, firstEpoch: 5, firstSequence: 10));
        MirrorRecord first = Write(5, 10, 0, 0xA);
        _secondary.OnMirror(first);
        _secondary.OnCheckpoint(CheckpointFor(5, 10, 10, first) with { StartsResync = true, ResyncPending = true });
        // Sealed, not yet committed: it would commit during a promotion, so it already counts.

        string? refusal = _secondary.Promote();
        Assert.NotNull(refusal);
        Assert.Contains("epoch 5", refusal, StringComparison.Ordinal);
        Assert.Equal(SecondaryPhase.Replicating, _secondary.Phase);
        Assert.Empty(_actions.Promotions);

        _secondary.OnEpochPersisted(5);
        Assert.Equal([5L], _actions.Acks);
    }
}
