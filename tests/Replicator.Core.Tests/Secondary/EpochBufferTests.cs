using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Tests.Support;
using static Replicator.Core.Tests.Support.Records;

namespace Replicator.Core.Tests.Secondary;

/// <summary>I3: an epoch commits whole or not at all; bad records never reach the image.</summary>
public class EpochBufferTests
{
    private readonly RecordingSecondaryActions _actions = new();
    private readonly SecondaryEngine _secondary;

    public EpochBufferTests() => _secondary = NewSecondary(1 << 20);

    private SecondaryEngine NewSecondary(long capacity) =>
        new(new SecondaryOptions { Geometry = Geometry, BufferCapacityBytes = capacity }, _actions);

    [Fact]
    public void A_complete_epoch_with_a_matching_digest_is_sealed_and_journalled()
    {
        MirrorRecord a = Write(1, 1, 0, 0xA), b = Write(1, 2, 8192, 0xB);
        _secondary.OnMirror(a);
        _secondary.OnMirror(b);
        Assert.Equal(MirrorOutcome.Buffered, _secondary.OnCheckpoint(CheckpointFor(1, 1, 2, a, b)));

        Assert.Equal(["persist 1"], _actions.Log);
        Assert.Equal(2, _actions.Persisted[0].Count);
    }

    [Fact]
    public void A_missing_sequence_number_keeps_the_epoch_from_committing()
    {
        MirrorRecord a = Write(1, 1, 0, 0xA), b = Write(1, 2, 8192, 0xB), c = Write(1, 3, 16384, 0xC);
        _secondary.OnMirror(a);
        _secondary.OnMirror(c);
        _secondary.OnCheckpoint(CheckpointFor(1, 1, 3, a, b, c));

        Assert.Empty(_actions.Persisted);
        _secondary.Promote();
        Assert.Equal(["taking over 0", "promoted 0"], _actions.Log);
        Assert.Equal(0, _secondary.BufferedBytes);
    }

    [Fact]
    public void The_checkpoint_and_its_snapshot_arriving_before_the_last_write_waits_for_it()
    {
        MirrorRecord a = Write(1, 1, 0, 0xA), b = Write(1, 2, 8192, 0xB);
        _secondary.OnMirror(a);
        _secondary.OnCheckpoint(CheckpointFor(1, 1, 2, a, b));
        Assert.Empty(_actions.Persisted);

        _secondary.OnMirror(b);
        Assert.Equal(["persist 1"], _actions.Log);
    }

    [Fact]
    public void Reordered_sequence_numbers_are_applied_in_sequence_order()
    {
        // Ranges that overlap without repeating: none is left out of the write-back, and order matters.
        MirrorRecord a = Write(1, 1, 0, 0xA), b = Write(1, 2, 512, 0xB), c = Write(1, 3, 1024, 0xC);
        _secondary.OnMirror(c);
        _secondary.OnMirror(a);
        _secondary.OnMirror(b);
        _secondary.OnCheckpoint(CheckpointFor(1, 1, 3, a, b, c));
        _secondary.OnEpochPersisted(1);

        Assert.Equal([1L, 2, 3], _actions.ImageWrites.Select(r => r.Sequence));
    }

    [Fact]
    public void An_identical_duplicate_is_dropped_and_the_epoch_still_commits()
    {
        MirrorRecord a = Write(1, 1, 0, 0xA);
        Assert.Equal(MirrorOutcome.Buffered, _secondary.OnMirror(a));
        Assert.Equal(MirrorOutcome.Duplicate, _secondary.OnMirror(a));
        _secondary.OnCheckpoint(CheckpointFor(1, 1, 1, a));

        Assert.Equal(["persist 1"], _actions.Log);
        Assert.Equal(a.BufferCost, _secondary.BufferedBytes);
    }

    [Fact]
    public void A_duplicated_sequence_number_with_different_contents_is_rejected()
    {
        MirrorRecord a = Write(1, 1, 0, 0xA);
        _secondary.OnMirror(a);
        Assert.Equal(MirrorOutcome.Rejected, _secondary.OnMirror(Write(1, 1, 0, 0xF)));
        _secondary.OnCheckpoint(CheckpointFor(1, 1, 1, a));

        Assert.Empty(_actions.Persisted);
        Assert.Equal(SecondaryPhase.Stalled, _secondary.Phase);
        Assert.Contains("two different records", _actions.Rejections.Single().Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_digest_mismatch_is_never_committed()
    {
        MirrorRecord a = Write(1, 1, 0, 0xA), damaged = Write(1, 2, 8192, 0xB);
        _secondary.OnMirror(a);
        _secondary.OnMirror(damaged);
        _secondary.OnCheckpoint(CheckpointFor(1, 1, 2, a, Write(1, 2, 8192, 0xC)));

        Assert.Empty(_actions.Persisted);
        Assert.Equal(1, _actions.Rejections.Single().Epoch);
        Assert.Contains("digest mismatch", _actions.Rejections.Single().Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_damaged_snapshot_is_never_committed()
    {
        MirrorRecord a = Write(1, 1, 0, 0xA);
        CheckpointRecord checkpoint = CheckpointFor(1, 1, 1, a);
        _secondary.OnMirror(a);
        _secondary.OnCheckpoint(checkpoint with { SnapshotDigest = checkpoint.SnapshotDigest ^ 1 });

        Assert.Empty(_actions.Persisted);
        Assert.Contains("snapshot", _actions.Rejections.Single().Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_snapshot_that_does_not_fit_the_RAM_store_is_refused_before_commit()
    {
        var secondary = new SecondaryEngine(new SecondaryOptions { Geometry = Geometry, BufferCapacityBytes = 1 << 20, VmPageCount = 1, VmPageSize = 4096 }, _actions);
        MirrorRecord a = Write(1, 1, 0, 0xA);
        var snapshot = new Core.Vm.VmSnapshot(1, [], [new Core.Vm.VmPage(5, new byte[4096])]);
        var digest = default(EpochDigest);
        digest.Add(a);
        secondary.OnMirror(a);
        secondary.OnCheckpoint(new CheckpointRecord(1, 1, 1, digest.Value, snapshot, snapshot.ComputeDigest()));

        Assert.Empty(_actions.Persisted);
        Assert.Contains("does not fit", _actions.Rejections.Single().Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_record_beyond_the_checkpoint_range_is_rejected()
    {
        MirrorRecord a = Write(1, 1, 0, 0xA);
        _secondary.OnMirror(a);
        _secondary.OnCheckpoint(CheckpointFor(1, 1, 1, a));
        _secondary.OnEpochPersisted(1);

        MirrorRecord b = Write(2, 2, 0, 0xB);
        _secondary.OnCheckpoint(CheckpointFor(2, 2, 2, b));
        Assert.Equal(MirrorOutcome.Rejected, _secondary.OnMirror(Write(2, 3, 0, 0xC)));
        Assert.Equal(SecondaryPhase.Stalled, _secondary.Phase);
    }

    [Fact]
    public void A_gap_between_epochs_is_rejected()
    {
        MirrorRecord a = Write(1, 1, 0, 0xA);
        _secondary.OnMirror(a);
        _secondary.OnCheckpoint(CheckpointFor(1, 1, 1, a));

        // Epoch 2 claims to start at 3: sequence number 2 vanished between the epochs.
        MirrorRecord c = Write(2, 3, 0, 0xC);
        _secondary.OnMirror(c);
        _secondary.OnCheckpoint(CheckpointFor(2, 3, 3, c));

        Assert.Single(_actions.Persisted);
        Assert.Contains("sequence gap", _actions.Rejections.Single().Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Epochs_seal_in_order_even_when_a_later_one_completes_first()
    {
        MirrorRecord a = Write(1, 1, 0, 0xA), b = Write(2, 2, 0, 0xB);
        _secondary.OnMirror(b);
        _secondary.OnCheckpoint(CheckpointFor(2, 2, 2, b));
        _secondary.OnCheckpoint(CheckpointFor(1, 1, 1, a));
        Assert.Empty(_actions.Persisted);

        _secondary.OnMirror(a);
        Assert.Equal(["persist 1", "persist 2"], _actions.Log);
    }

    [Fact]
    public void A_write_whose_payload_does_not_match_its_length_is_rejected()
    {
        MirrorRecord bad = Write(1, 1, 0, 0xA) with { Payload = new byte[100] };
        Assert.Equal(MirrorOutcome.Rejected, _secondary.OnMirror(bad));
        Assert.Contains("payload is 100 bytes", _actions.Rejections.Single().Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_record_that_would_pass_the_bound_is_rejected_and_the_bound_holds()
    {
        long capacity = 2 * (64 * 1024 + MirrorRecord.RecordOverheadBytes);
        SecondaryEngine small = NewSecondary(capacity);
        Assert.Equal(MirrorOutcome.Buffered, small.OnMirror(Write(1, 1, 0, 1, 64 * 1024)));
        Assert.Equal(MirrorOutcome.Buffered, small.OnMirror(Write(1, 2, 0, 2, 64 * 1024)));
        Assert.Equal(capacity, small.BufferedBytes);

        Assert.Equal(MirrorOutcome.Rejected, small.OnMirror(Write(1, 3, 0, 3, 4096)));
        Assert.Contains("past its bound", _actions.Rejections.Single().Reason, StringComparison.Ordinal);
        Assert.True(small.PeakBufferedBytes <= capacity);
    }

    [Fact]
    public void Pooled_payloads_go_back_to_their_owner_on_duplicate_discard_and_apply()
    {
        var owners = Enumerable.Range(0, 3).Select(_ => new CountingOwner()).ToArray();
        MirrorRecord a = Write(1, 1, 0, 0xA), b = Write(2, 2, 0, 0xB);
        _secondary.OnMirror(a, owners[0]);
        _secondary.OnMirror(a, owners[1]);
        Assert.Equal(1, owners[1].Disposed);

        _secondary.OnCheckpoint(CheckpointFor(1, 1, 1, a));
        _secondary.OnEpochPersisted(1);
        _secondary.OnApplied(1);
        Assert.Equal(1, owners[0].Disposed);

        _secondary.OnMirror(b, owners[2]);
        _secondary.Promote();
        Assert.Equal(1, owners[2].Disposed);
        Assert.Equal(0, _secondary.BufferedBytes);
    }
}
