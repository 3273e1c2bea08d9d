using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Tests.Support;
using static Replicator.Core.Tests.Support.Records;

namespace Replicator.Core.Tests.Secondary;

/// <summary>
/// The memory a received checkpoint's pages lie in (a pooled copy of its frame) goes back once, and
/// only when nothing reads those pages any more: not at the commit (the write-back still copies them
/// into the RAM image), not at a takeover (the new primary resumes its VM from them).
/// </summary>
public class CheckpointMemoryTests
{
    private readonly RecordingSecondaryActions _actions = new();
    private readonly SecondaryEngine _secondary;

    public CheckpointMemoryTests() =>
        _secondary = new SecondaryEngine(new SecondaryOptions { Geometry = Geometry, BufferCapacityBytes = 1 << 20 }, _actions);

    [Fact]
    public void It_is_held_past_the_commit_and_goes_back_when_the_epoch_is_applied()
    {
        var owner = new CountingOwner();
        MirrorRecord a = Write(1, 1, 0, 0xA);
        _secondary.OnMirror(a);
        Assert.Equal(MirrorOutcome.Buffered, _secondary.OnCheckpoint(CheckpointFor(1, 1, 1, a), owner));
        _secondary.OnEpochPersisted(1);
        Assert.Equal(0, owner.Disposed); // committed: the write-back has yet to read its pages

        _secondary.OnApplied(1);
        Assert.Equal(1, owner.Disposed);
    }

    [Fact]
    public void One_not_kept_goes_back_at_once()
    {
        var stale = new CountingOwner();
        var ahead = new CountingOwner();
        MirrorRecord a = Write(1, 1, 0, 0xA);
        _secondary.OnMirror(a);
        _secondary.OnCheckpoint(CheckpointFor(1, 1, 1, a));
        _secondary.OnEpochPersisted(1);

        Assert.Equal(MirrorOutcome.Stale, _secondary.OnCheckpoint(CheckpointFor(1, 1, 1, a), stale)); // a retransmission
        Assert.Equal(1, stale.Disposed);

        Assert.Equal(MirrorOutcome.Rejected, _secondary.OnCheckpoint(CheckpointFor(1_000, 9, 9), ahead)); // past the open-epoch bound
        Assert.Equal(1, ahead.Disposed);
    }

    [Fact]
    public void A_refused_or_discarded_epoch_gives_it_back_once()
    {
        var refused = new CountingOwner();
        MirrorRecord a = Write(1, 1, 0, 0xA);
        _secondary.OnMirror(a);
        Assert.Equal(MirrorOutcome.Buffered, _secondary.OnCheckpoint(CheckpointFor(1, 1, 1, a) with { Digest = 12345 }, refused));
        Assert.Equal(SecondaryPhase.Stalled, _secondary.Phase); // the digest did not match: the epoch went
        Assert.Equal(1, refused.Disposed);

        var second = new CountingOwner();
        var discarded = new CountingOwner();
        var other = new SecondaryEngine(new SecondaryOptions { Geometry = Geometry, BufferCapacityBytes = 1 << 20 }, new RecordingSecondaryActions());
        Assert.Equal(MirrorOutcome.Buffered, other.OnCheckpoint(CheckpointFor(1, 1, 1, a), discarded)); // its record never came
        Assert.Equal(MirrorOutcome.Rejected, other.OnCheckpoint(CheckpointFor(1, 1, 1, a), second)); // a second, different one: refused, the epoch goes
        Assert.Equal(1, second.Disposed);
        Assert.Equal(1, discarded.Disposed);

        other.OnPrimaryLost();
        Assert.Equal(1, discarded.Disposed); // released with its epoch, never again
    }

    [Fact]
    public void A_takeover_keeps_it_for_the_VM_it_resumes_even_after_the_drain()
    {
        var owner = new CountingOwner();
        MirrorRecord a = Write(1, 1, 0, 0xA);
        _secondary.OnMirror(a);
        CheckpointRecord checkpoint = CheckpointFor(1, 1, 1, a);
        _secondary.OnCheckpoint(checkpoint, owner);
        _secondary.OnEpochPersisted(1);

        Assert.Null(_secondary.Promote());
        CommittedOverlay takeover = Assert.Single(_actions.Takeovers);
        Assert.Same(checkpoint.Snapshot, Assert.Single(takeover.VmSnapshots));
        _secondary.OnApplied(1);
        Assert.False(takeover.IsOpen);

        Assert.Equal(0, owner.Disposed); // never lent again: the overlay's snapshots still point into it
    }
}
