using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Tests.Support;
using Replicator.Core.Vm;
using static Replicator.Core.Tests.Support.Records;

namespace Replicator.Core.Tests.Secondary;

/// <summary>
/// The RAM pages of committed checkpoints waiting for the write-back are bounded: beyond the bound
/// an epoch is acknowledged only once the write-back has drained them, so the primary (which starts
/// no checkpoint while too many wait for their acknowledgement) cannot fill this node's RAM.
/// </summary>
public class WritebackPageBoundTests
{
    private const int Page = 4096;
    private readonly RecordingSecondaryActions _actions = new();
    private long _sequence;

    private SecondaryEngine Engine(long pageBound) =>
        new(new SecondaryOptions { Geometry = Geometry, BufferCapacityBytes = 1 << 20, WritebackCapacityBytes = 1 << 20, WritebackPageCapacityBytes = pageBound }, _actions);

    /// <summary>Commits an epoch of one write whose snapshot carries <paramref name="pages"/> pages.</summary>
    private void CommitWithPages(SecondaryEngine secondary, long epoch, int pages)
    {
        MirrorRecord record = Write(epoch, ++_sequence, epoch * Page, (byte)epoch);
        secondary.OnMirror(record);
        var digest = default(EpochDigest);
        digest.Add(record);
        var snapshot = new VmSnapshot(epoch, [(byte)epoch], [.. Enumerable.Range(0, pages).Select(index => new VmPage(index, Filled(Page, (byte)epoch)))]);
        secondary.OnCheckpoint(new CheckpointRecord(epoch, _sequence, _sequence, digest.Value, snapshot, snapshot.ComputeDigest()));
        secondary.OnEpochPersisted(epoch);
    }

    private List<string> Acks() => _actions.Log.Where(l => l.StartsWith("ack", StringComparison.Ordinal)).ToList();

    [Fact]
    public void Beyond_the_bound_an_epoch_is_acknowledged_only_once_the_write_back_drains_the_pages()
    {
        SecondaryEngine secondary = Engine(pageBound: 2 * Page);
        CommitWithPages(secondary, 1, pages: 1); // 1 page waiting: within the bound
        CommitWithPages(secondary, 2, pages: 2); // 3 pages: beyond it
        CommitWithPages(secondary, 3, pages: 1); // 4 pages

        Assert.Equal(["ack 1"], Acks());
        Assert.Equal((4L * Page, 3L), (secondary.WritebackBacklogPageBytes, secondary.WithheldAcknowledgement));

        secondary.OnApplied(1); // epochs 2 and 3 still hold 3 pages
        Assert.Equal(["ack 1"], Acks());

        secondary.OnApplied(3);
        Assert.Equal(["ack 1", "ack 3"], Acks());
        Assert.Equal((0L, 0L), (secondary.WritebackBacklogPageBytes, secondary.WithheldAcknowledgement));
    }

    [Fact]
    public void Epochs_whose_checkpoints_carry_no_pages_are_acknowledged_at_once_even_with_no_room()
    {
        SecondaryEngine secondary = Engine(pageBound: 0);
        CommitWithPages(secondary, 1, pages: 0);
        CommitWithPages(secondary, 2, pages: 0);

        Assert.Equal(["ack 1", "ack 2"], Acks());
        Assert.Equal(0, secondary.LastAppliedEpoch); // nothing written back yet
    }

    [Fact]
    public void An_acknowledgement_withheld_for_a_lost_link_is_never_sent_on_the_next()
    {
        SecondaryEngine secondary = Engine(pageBound: Page);
        CommitWithPages(secondary, 1, pages: 2);
        Assert.Equal(1, secondary.WithheldAcknowledgement);

        secondary.OnPrimaryLost();
        secondary.OnApplied(1);

        Assert.Empty(Acks());
        Assert.Equal(0, secondary.WritebackBacklogPageBytes);
    }

    [Fact]
    public void Pages_replayed_from_the_journal_count_until_they_are_written_back()
    {
        SecondaryEngine secondary = Engine(pageBound: Page);
        MirrorRecord record = Write(1, 1, 0, 1);
        var snapshot = new VmSnapshot(1, [1], [new VmPage(0, Filled(Page, 1)), new VmPage(1, Filled(Page, 1))]);
        var digest = default(EpochDigest);
        digest.Add(record);
        secondary.RecoverCommittedEpoch(new CheckpointRecord(1, 1, 1, digest.Value, snapshot, snapshot.ComputeDigest()), [record]);
        Assert.Equal(2L * Page, secondary.WritebackBacklogPageBytes);

        secondary.OnApplied(1);
        Assert.Equal(0, secondary.WritebackBacklogPageBytes);
    }
}
