using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Tests.Support;
using static Replicator.Core.Tests.Support.Records;

namespace Replicator.Core.Tests.Secondary;

/// <summary>
/// Which records the engine hands to be written to the journal ahead of their commit: those of the
/// epoch that commits next, once each, as they are buffered, named by their log's incarnation.
/// </summary>
public class StagingTests
{
    private readonly RecordingSecondaryActions _actions = new();
    private readonly SecondaryEngine _secondary;

    public StagingTests() => _secondary = new SecondaryEngine(new SecondaryOptions { Geometry = Geometry, BufferCapacityBytes = 1 << 20 }, _actions);

    [Fact]
    public void Records_of_the_epoch_that_commits_next_are_handed_ahead_once_each_and_no_other()
    {
        MirrorRecord a = Write(1, 1, 0, 0xA), b = Write(1, 2, 8192, 0xB);
        MirrorRecord later = Write(2, 3, 4096, 0xC);
        _secondary.OnMirror(a);
        _secondary.OnMirror(later); // epoch 2 arrived early: it commits after epoch 1, whose entry goes first
        _secondary.OnMirror(a); // a retransmission
        _secondary.OnMirror(b);

        long incarnation = _actions.Staged[0].Incarnation;
        Assert.Equal([(incarnation, 1L, 1L), (incarnation, 1L, 2L)], _actions.Staged);
    }

    [Fact]
    public void Once_an_epoch_is_sealed_the_next_one_s_records_are_handed_ahead_under_its_own_incarnation()
    {
        MirrorRecord a = Write(1, 1, 0, 0xA), b = Write(2, 2, 8192, 0xB);
        _secondary.OnMirror(a);
        _secondary.OnCheckpoint(CheckpointFor(1, 1, 1, a));
        _secondary.OnMirror(b);

        Assert.Equal([1L, 2L], _actions.Staged.Select(s => s.Epoch));
        Assert.Equal(_actions.Persisted[0].Incarnation, _actions.Staged[0].Incarnation);
        Assert.NotEqual(_actions.Staged[0].Incarnation, _actions.Staged[1].Incarnation);
    }

    [Fact]
    public void An_epoch_discarded_with_its_link_and_opened_again_is_another_incarnation()
    {
        _secondary.OnMirror(Write(1, 1, 0, 0xA));
        _secondary.OnPrimaryLost();
        Assert.Null(_secondary.OnResyncStart(baseEpoch: 0, firstEpoch: 1, firstSequence: 1));
        MirrorRecord again = Write(1, 1, 4096, 0xB);
        _secondary.OnMirror(again);
        _secondary.OnCheckpoint(CheckpointFor(1, 1, 1, again) with { StartsResync = true });

        Assert.Equal(2, _actions.Staged.Count);
        Assert.NotEqual(_actions.Staged[0].Incarnation, _actions.Staged[1].Incarnation);
        Assert.Equal(_actions.Staged[1].Incarnation, Assert.Single(_actions.Persisted).Incarnation);
    }
}
