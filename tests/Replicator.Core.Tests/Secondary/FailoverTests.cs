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
        // One snapshot per batch, the batch's last epoch's: its pages are each page as the batch left it.
        Assert.Equal(["vm 1", "vm 3"], _actions.Log.Where(l => l.StartsWith("vm", StringComparison.Ordinal)));
    }

    [Fact]
    public void The_takeover_is_served_before_the_drain_ends_and_its_payloads_outlive_each_batch_until_it_closes()
    {
        for (long e = 1; e <= 3; e++)
        {
            // Each epoch rewrites the first block; epoch 3 also writes the next one.
            MirrorRecord[] records = e == 3 ? [Write(e, 3, 0, 3), Write(e, 4, 4096, 0x33)] : [Write(e, e, 0, (byte)e)];
            foreach (MirrorRecord record in records)
            {
                _secondary.OnMirror(record);
            }

            _secondary.OnCheckpoint(CheckpointFor(e, records[0].Sequence, records[^1].Sequence, records));
            _secondary.OnEpochPersisted(e);
        }

        Assert.Null(_secondary.Promote());

        CommittedOverlay takeover = Assert.Single(_actions.Takeovers);
        Assert.Equal(3, takeover.Epoch);
        Assert.Equal(["taking over 3"], _actions.Log.Where(l => l.StartsWith("taking over", StringComparison.Ordinal)));
        Assert.Empty(_actions.Promotions); // the drain is still to come
        Assert.True(takeover.IsOpen);
        Assert.True(takeover.Overlaps(4096 + 512, 512));
        Assert.False(takeover.Overlaps(8192, 4096));

        byte[] image = new byte[3 * 4096];
        _secondary.OnApplied(1); // the first batch is durable: its records leave the engine, not the overlay
        byte[] read = new byte[8192];
        takeover.Read(new ZeroImage(), 0, read);
        Assert.All(read.AsSpan(0, 4096).ToArray(), b => Assert.Equal(3, b)); // the newest committed write of block 0
        Assert.All(read.AsSpan(4096).ToArray(), b => Assert.Equal(0x33, b));

        _secondary.OnApplied(3);
        Assert.Equal([3L], _actions.Promotions);
        Assert.False(takeover.IsOpen);
        Assert.True(takeover.Closed.IsCompleted);
        Assert.False(takeover.Overlaps(0, image.Length)); // writes wait for nothing any more
        takeover.Read(new ZeroImage(), 0, read);
        Assert.All(read, b => Assert.Equal(0, b)); // the image alone, as its file now holds everything
    }

    [Fact]
    public void A_takeover_waits_for_a_journal_write_under_way_and_lands_on_it_when_it_commits()
    {
        MirrorRecord first = Write(1, 1, 0, 1), second = Write(2, 2, 4096, 2);
        _secondary.OnMirror(first);
        _secondary.OnCheckpoint(CheckpointFor(1, 1, 1, first));
        _secondary.OnEpochPersisted(1);
        _secondary.OnMirror(second);
        _secondary.OnCheckpoint(CheckpointFor(2, 2, 2, second)); // being journalled

        Assert.Null(_secondary.Promote());
        Assert.Empty(_actions.Takeovers);

        _secondary.OnEpochPersisted(2);
        Assert.Equal(2, Assert.Single(_actions.Takeovers).Epoch);
    }

    [Fact]
    public void A_takeover_with_nothing_to_drain_is_closed_from_the_start()
    {
        Assert.Null(_secondary.Promote());

        CommittedOverlay takeover = Assert.Single(_actions.Takeovers);
        Assert.False(takeover.IsOpen);
        Assert.Equal(["taking over 0", "promoted 0"], _actions.Log);
    }

    private readonly struct ZeroImage : IImageReader
    {
        public void Read(long offset, Span<byte> destination) => destination.Clear();
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
