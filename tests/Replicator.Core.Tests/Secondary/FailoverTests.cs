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
}
