using NSubstitute;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Vm;
using Replicator.Hosts.Tests.Support;
using static Replicator.Hosts.Tests.Support.RecordingPrimaryActions;

namespace Replicator.Hosts.Tests;

/// <summary>
/// A primary started in a promoted node while the committed epochs it took over still drain into
/// the image: it serves at once, and only a write overlapping what still drains waits — a restart
/// before the drain is durable replays those records, and must never replay one over a write this
/// node acknowledged.
/// </summary>
public sealed class PrimaryHostTakeoverTests
{
    private readonly SecondaryEngine _secondary;
    private CommittedOverlay? _takeover;

    public PrimaryHostTakeoverTests()
    {
        var actions = Substitute.For<ISecondaryActions>();
        actions.When(a => a.TakingOver(Arg.Any<long>(), Arg.Any<CommittedOverlay>())).Do(call => _takeover = call.Arg<CommittedOverlay>());
        _secondary = new SecondaryEngine(new SecondaryOptions { Geometry = new BlockGeometry(PrimaryHarness.ImageBytes, PrimaryHarness.MaxRequestBytes), BufferCapacityBytes = 1 << 20 }, actions);

        // Epoch 1 committed, not yet written back: 8 KiB at 64 KiB.
        var record = new MirrorRecord(1, 1, BlockRequest.Write(64 * 1024, 8192), new byte[8192]);
        _secondary.OnMirror(record);
        var digest = default(EpochDigest);
        digest.Add(record);
        var snapshot = new VmSnapshot(1, [], []);
        _secondary.OnCheckpoint(new CheckpointRecord(1, 1, 1, digest.Value, snapshot, snapshot.ComputeDigest()));
        _secondary.OnEpochPersisted(1);
        Assert.Null(_secondary.Promote());
    }

    private PrimaryHarness Started()
    {
        Assert.NotNull(_takeover);
        var h = new PrimaryHarness(o => o with { Unreplicated = true, RunsPromotedNode = true, Takeover = _takeover });
        h.Host.Start();
        return h;
    }

    [Fact]
    public void A_write_overlapping_the_drain_waits_for_it_and_one_beside_it_goes_at_once()
    {
        PrimaryHarness h = Started();
        Assert.True(h.Host.TakeoverDraining);

        h.Write(1, 64 * 1024 + 4096); // inside the committed record
        h.Write(2, 0);                // nowhere near it
        h.Host.Submit(3, BlockRequest.Flush(), default);

        Assert.Equal([2L, 3], h.Actions.Of<Issued>().Select(i => i.RequestId));
        Assert.Equal(1, h.Host.WritesHeldForTakeover);

        _secondary.OnApplied(1); // the drain's state record is durable: the overlay closes
        Assert.True(_takeover!.Closed.IsCompleted);
        h.Host.OnTakeoverDrained();

        Assert.Equal([2L, 3, 1], h.Actions.Of<Issued>().Select(i => i.RequestId));
        Assert.Equal(0, h.Host.WritesHeldForTakeover);
        Assert.False(h.Host.TakeoverDraining);
    }

    [Fact]
    public void Once_the_drain_is_over_nothing_waits()
    {
        _secondary.OnApplied(1);
        PrimaryHarness h = Started();

        h.Write(1, 64 * 1024);

        Assert.Equal([1L], h.Actions.Of<Issued>().Select(i => i.RequestId));
    }
}
