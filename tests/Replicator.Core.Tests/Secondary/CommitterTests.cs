using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Tests.Support;
using static Replicator.Core.Tests.Support.Records;

namespace Replicator.Core.Tests.Secondary;

/// <summary>The commit point, the acknowledgement after it, barriers on apply, reads, recovery.</summary>
public class CommitterTests
{
    private readonly RecordingSecondaryActions _actions = new();
    private readonly SecondaryEngine _secondary;

    public CommitterTests() =>
        _secondary = new SecondaryEngine(new SecondaryOptions { Geometry = Geometry, BufferCapacityBytes = 1 << 20 }, _actions);

    [Fact]
    public void The_acknowledgement_leaves_only_after_the_journal_entry_is_durable()
    {
        _secondary.Seal(1, 1, Write(1, 1, 0, 0xA));
        Assert.Empty(_actions.Acks);
        Assert.Equal(0, _secondary.LastCommittedEpoch);

        _secondary.OnEpochPersisted(1);
        Assert.Equal([1L], _actions.Acks);
        Assert.Equal(1, _secondary.LastCommittedEpoch);
    }

    [Fact]
    public void Apply_keeps_the_recorded_barriers_then_flushes_applies_the_snapshot_and_records_it()
    {
        _secondary.Seal(1, 1, Write(1, 1, 0, 0xA), Write(1, 2, 4096, 0xB), Flush(1, 3), Write(1, 4, 0, 0xC, fua: true), Write(1, 5, 8192, 0xD));
        _secondary.OnEpochPersisted(1);

        Assert.Equal(
            ["persist 1", "ack 1", "write 1", "write 2", "flush", "write 4 fua", "write 5", "flush", "vm 1", "applied 1@5"],
            _actions.Log);
    }

    [Fact]
    public void Applied_epochs_free_their_memory_and_return_credit()
    {
        MirrorRecord a = Write(1, 1, 0, 0xA);
        _secondary.Seal(1, 1, a);
        _secondary.OnEpochPersisted(1);
        Assert.Equal(a.BufferCost, _secondary.BufferedBytes);

        _secondary.OnApplied(1);
        Assert.Equal(0, _secondary.BufferedBytes);
        Assert.Equal(a.BufferCost, _actions.CreditReturned);
        Assert.Equal(1, _secondary.LastAppliedEpoch);
    }

    [Fact]
    public void Reads_see_the_newest_committed_data_and_not_open_epochs()
    {
        _secondary.Seal(1, 1, Write(1, 1, 0, 0xA), new MirrorRecord(1, 2, BlockRequest.Zeroes(512, 512), default));
        _secondary.OnEpochPersisted(1);
        MirrorRecord open = Write(2, 3, 0, 0xE);
        _secondary.OnMirror(open);

        byte[] buffer = Filled(4096, 0x11);
        _secondary.OverlayCommitted(0, buffer);
        Assert.All(buffer.AsSpan(0, 512).ToArray(), b => Assert.Equal(0xA, b));
        Assert.All(buffer.AsSpan(512, 512).ToArray(), b => Assert.Equal(0, b));
        Assert.All(buffer.AsSpan(1024).ToArray(), b => Assert.Equal(0xA, b));
    }

    [Fact]
    public void Epochs_apply_one_at_a_time_in_order()
    {
        _secondary.Seal(1, 1, Write(1, 1, 0, 0xA));
        _secondary.Seal(2, 2, Write(2, 2, 0, 0xB));
        _secondary.OnEpochPersisted(1);
        _secondary.OnEpochPersisted(2);
        Assert.DoesNotContain("write 2", _actions.Log);

        _secondary.OnApplied(1);
        Assert.Contains("write 2", _actions.Log);
        Assert.Throws<InvalidOperationException>(() => _secondary.OnApplied(1));
    }

    [Fact]
    public void A_persisted_report_out_of_order_is_a_driver_bug()
    {
        _secondary.Seal(1, 1, Write(1, 1, 0, 0xA));
        var error = Assert.Throws<InvalidOperationException>(() => _secondary.OnEpochPersisted(2));
        Assert.Equal("epoch 2 reported persisted, but the next epoch being journalled is 1", error.Message);
    }

    [Fact]
    public void A_verify_record_reaches_the_image_writer_at_its_place_in_the_sequence()
    {
        MirrorRecord before = Write(1, 1, 0, 0xA);
        var verify = new MirrorRecord(1, 2, new BlockRequest(BlockOp.Verify, 0, 4096), new byte[VerifyBlocks.PayloadLength(4096)]);
        MirrorRecord after = Write(1, 3, 0, 0xB);
        _secondary.Seal(1, 1, before, verify, after);
        _secondary.OnEpochPersisted(1);

        Assert.Equal([1L, 2, 3], _actions.ImageWrites.Select(w => w.Sequence));
        Assert.Equal(BlockOp.Verify, _actions.ImageWrites[1].Request.Op);
    }

    [Fact]
    public void Replay_without_a_checkpoint_or_records_is_a_caller_bug()
    {
        Assert.Throws<ArgumentNullException>(() => _secondary.RecoverCommittedEpoch(null!, []));
        Assert.Throws<ArgumentNullException>(() => _secondary.RecoverCommittedEpoch(CheckpointFor(1, 1, 0), null!));
    }

    [Fact]
    public void A_failed_journal_write_commits_nothing_and_stalls()
    {
        _secondary.Seal(1, 1, Write(1, 1, 0, 0xA));
        _secondary.OnPersistFailed(1, "disk full");

        Assert.Empty(_actions.Acks);
        Assert.Equal(SecondaryPhase.Stalled, _secondary.Phase);
        Assert.Equal(0, _secondary.BufferedBytes);
        Assert.Contains("disk full", _actions.Rejections.Single().Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Recovery_replays_journalled_epochs_and_continues_from_them()
    {
        MirrorRecord a = Write(1, 1, 0, 0xA);
        var recovered = new SecondaryEngine(new SecondaryOptions { Geometry = Geometry, BufferCapacityBytes = 1 << 20 }, _actions);
        recovered.RecoverCommittedEpoch(CheckpointFor(1, 1, 1, a), [a]);
        Assert.Equal(1, recovered.LastCommittedEpoch);
        Assert.Contains("applied 1@1", _actions.Log);

        MirrorRecord b = Write(2, 2, 0, 0xB);
        recovered.OnMirror(b);
        recovered.OnCheckpoint(CheckpointFor(2, 2, 2, b));
        Assert.Contains(_actions.Persisted, p => p.Epoch == 2);
    }

    [Fact]
    public void Recovery_refuses_a_journal_entry_that_does_not_match_its_digest()
    {
        MirrorRecord a = Write(1, 1, 0, 0xA);
        var recovered = new SecondaryEngine(new SecondaryOptions { Geometry = Geometry, BufferCapacityBytes = 1 << 20 }, _actions);
        var error = Assert.Throws<InvalidOperationException>(() => recovered.RecoverCommittedEpoch(CheckpointFor(1, 1, 1, Write(1, 1, 0, 0xF)), [a]));
        Assert.Equal("journal entry for epoch 1 does not match its digest", error.Message);
    }
}
