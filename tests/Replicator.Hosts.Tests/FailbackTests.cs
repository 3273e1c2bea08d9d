using Replicator.Core.Blocks;
using Replicator.Hosts.Links;
using Replicator.Hosts.Primary;
using Replicator.Hosts.Storage;
using Replicator.Hosts.Tests.Support;
using Replicator.InMemory;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;
using static Replicator.Hosts.Tests.Support.RecordingPrimaryActions;

namespace Replicator.Hosts.Tests;

/// <summary>
/// Failback: the old primary comes back as a secondary of the node that took over, and is synced
/// back by copying what either of them wrote since the takeover checkpoint — no more, never less.
/// </summary>
public sealed class FailbackTests
{
    private const int Region = 4096;
    private const int Extent = 16 * 1024;

    private static DataGenerations PairData => SecondaryHarness.PrimaryGenerations;

    [Fact]
    public void An_old_primary_started_as_a_secondary_is_demoted_and_its_welcome_names_every_region_its_dirty_log_says_it_wrote()
    {
        (MemoryStorageDirectory directory, long acknowledged) = KilledPrimaryWithLog();

        var old = new SecondaryHarness(directory: directory);
        NodeState state = new NodeStateStore(directory).Load()!;
        Assert.Equal((NodeRole.Secondary, true, true, false), (state.Role, state.FormerPrimary, state.MidResync, state.PrimaryByPromotion));
        Assert.NotEqual(0L, state.JournalSalt);
        Assert.Contains("middle of a resync", old.Host.Promote("operator"), StringComparison.Ordinal);

        LinkId link = old.Connect(generations: Promoted());
        old.RunStorage();
        WelcomeMessage welcome = Assert.Single(old.SentOf<WelcomeMessage>(link));
        FormerPrimaryWrites writes = welcome.FormerPrimaryWrites!;
        Assert.True(writes.Known);
        Assert.Equal(PairData.Current!.Id, writes.Generation);
        Assert.Equal(acknowledged, writes.AcknowledgedEpoch);
        Assert.Equal(0, welcome.LastCommittedEpoch);
        Assert.Equal(PairData.Current, welcome.Generations.Current);

        // The unacknowledged write at 9 extents is named; the acknowledged one at 0 is not, unless its extent is still hot.
        Assert.Contains(writes.Pairs(), r => r.Offset <= 9 * Extent && r.Offset + r.Length >= (9 * Extent) + Region);
        Assert.True(writes.Bytes <= 2 * Extent, $"{writes.Bytes} bytes named: more than the two hot extents");
    }

    [Fact]
    public void An_old_primary_that_kept_no_dirty_log_says_its_writes_are_unknown()
    {
        var primary = new PrimaryHarness(directory: new MemoryStorageDirectory("state"));
        LinkId link = primary.StartConnected();
        primary.Write(1, 0);
        primary.Pump(link);

        var old = new SecondaryHarness(directory: primary.Directory);
        LinkId next = old.Connect(generations: Promoted());
        old.RunStorage();
        FormerPrimaryWrites writes = Assert.Single(old.SentOf<WelcomeMessage>(next)).FormerPrimaryWrites!;
        Assert.False(writes.Known);
        Assert.Contains("no dirty log", writes.UnknownBecause, StringComparison.Ordinal);
    }

    [Fact]
    public void A_promoted_node_serves_at_once_counting_its_changes_from_the_takeover_checkpoint_in_the_same_generation()
    {
        MemoryStorageDirectory directory = PromotedSecondary(takeoverEpoch: 3);
        PrimaryHarness b = PromotedPrimary(directory);
        b.Host.Start();

        Assert.NotNull(b.Host.Engine);
        Assert.Empty(b.Actions.Of<Connected>());
        Assert.Single(b.Actions.Of<ReconnectScheduled>());
        Assert.Equal(GenerationCause.Promotion, b.Host.Generations.Current!.Cause);
        NodeState state = new NodeStateStore(directory).Load()!;
        Assert.Null(state.PromotedFrom);
        Assert.True(state.PrimaryByPromotion);
        using DirtyLogFile file = DirtyLogFile.Open(directory)!;
        DirtyLogHeader header = file.Load().Header!;
        Assert.Equal((3L, (ulong)PairData.Current!.Id), (header.AcknowledgedEpoch, header.AcknowledgedGeneration));
    }

    [Fact]
    public void A_former_primary_is_rolled_back_by_copying_what_it_wrote_and_what_the_new_primary_wrote_since_the_takeover()
    {
        PrimaryHarness b = RunningPromoted(takeoverEpoch: 3);
        b.Write(1, 2 * Extent);
        b.Pump(LinkId.None);

        LinkId link = Reconnect(b, Former(acknowledged: 2, (9L * Extent, Region), (12L * Extent, 2 * Region)));

        ResyncStartMessage start = ResyncStartOn(b, link);
        Assert.False(start.WholeImage);
        Assert.Equal(0, start.BaseEpoch);
        Assert.Equal(4L * Region, start.Bytes);
        Assert.Equal(b.Host.Generations.Current, start.Generations!.Current);
        Assert.Equal(
            [2L * Extent, 9L * Extent, 12L * Extent, (12L * Extent) + Region],
            ReadsAfterResyncStart(b).Order());
    }

    [Theory]
    [InlineData("unknown")]
    [InlineData("counted past the takeover")]
    [InlineData("another generation")]
    public void A_former_primary_whose_writes_cannot_be_placed_against_the_takeover_is_copied_whole(string why)
    {
        PrimaryHarness b = RunningPromoted(takeoverEpoch: 3);
        FormerPrimaryWrites former = why switch
        {
            "unknown" => FormerPrimaryWrites.Unknown("it kept no dirty log"),
            "counted past the takeover" => Former(acknowledged: 4, (0, Region)),
            _ => FormerPrimaryWrites.From(0x1234, 2, [(0, Region)], PrimaryHarness.ImageBytes),
        };

        LinkId link = Reconnect(b, former);

        Assert.True(ResyncStartOn(b, link).WholeImage);
    }

    [Fact]
    public void A_former_primary_that_went_on_writing_alone_is_refused_as_a_split_brain_and_nothing_is_copied()
    {
        PrimaryHarness b = RunningPromoted(takeoverEpoch: 3);
        DataGenerations wroteAlone = PairData.Begin(GenerationMark.Draw(GenerationCause.UnprotectedWriting, DateTimeOffset.UnixEpoch));

        b.Host.OnReconnectDue();
        LinkId link = b.Connect();
        WelcomeMessage welcome = b.Welcome(generations: wroteAlone);
        welcome.FormerPrimaryWrites = Former(acknowledged: 2, (0, Region));
        b.Host.OnFrame(link, PrimaryHarness.Input(welcome));

        Closed closed = b.Actions.Of<Closed>().Single(c => c.Link == link);
        Assert.Contains("split brain", closed.Reason, StringComparison.Ordinal);
        Assert.Contains("discard-my-data", closed.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain(b.Actions.Of<Sent>(), s => s.Type == FrameType.ResyncStart);
    }

    [Fact]
    public void A_secondary_state_is_never_started_as_a_primary()
    {
        MemoryStorageDirectory directory = new SecondaryHarness().Directory;
        var primary = new PrimaryHarness(directory: directory);

        var refused = Assert.Throws<InvalidDataException>(primary.Host.Start);
        Assert.Contains("state.json is a secondary's", refused.Message, StringComparison.Ordinal);
        Assert.Equal(NodeRole.Secondary, new NodeStateStore(directory).Load()!.Role);
    }

    [Fact]
    public void A_promoted_node_started_by_replicator_primary_is_the_operators_primary_and_is_demoted_when_started_as_a_secondary()
    {
        MemoryStorageDirectory directory = PromotedSecondary(takeoverEpoch: 3);
        var resumed = new SecondaryHarness(directory: directory);
        Assert.True(resumed.Host.IsPromoted);    // a promotion resumed, not a demotion

        new PrimaryHarness(o => o with { StartWithoutSecondary = true }, directory).Host.Start();
        Assert.False(new NodeStateStore(directory).Load()!.PrimaryByPromotion);

        var demoted = new SecondaryHarness(directory: directory);
        Assert.False(demoted.Host.IsPromoted);
        NodeState state = new NodeStateStore(directory).Load()!;
        Assert.Equal((NodeRole.Secondary, true), (state.Role, state.FormerPrimary));
    }

    [Fact]
    public void A_former_primary_is_an_ordinary_secondary_once_the_sync_completes()
    {
        (MemoryStorageDirectory directory, _) = KilledPrimaryWithLog();
        var old = new SecondaryHarness(directory: directory);
        DataGenerations promoted = Promoted();
        LinkId link = old.Connect(generations: promoted);
        old.RunStorage();
        old.Host.OnInput(link, SecondaryHarness.ResyncStart(0, 1, 1, promoted, wholeImage: false));
        old.RunStorage();
        old.SendEpoch(link, 1, 1, resyncPending: true, startsResync: true);
        old.SendEpoch(link, 2, 2);
        old.RunStorage();

        NodeState state = new NodeStateStore(directory).Load()!;
        Assert.Equal((false, false, 0UL), (state.FormerPrimary, state.MidResync, state.DirtyLogId));
        Assert.Equal(promoted.Current, state.Generations.Current);
        old.Host.OnLinkClosed(link, "gone");
        LinkId next = old.Connect(generations: promoted);
        old.RunStorage();
        Assert.Null(old.SentOf<WelcomeMessage>(next).Single().FormerPrimaryWrites);
        Assert.Null(old.Host.Promote("operator"));
    }

    /// <summary>A primary with a dirty log, protected, that wrote and had one checkpoint acknowledged, wrote once more, and was killed.</summary>
    private static (MemoryStorageDirectory Directory, long Acknowledged) KilledPrimaryWithLog()
    {
        var primary = new PrimaryHarness(o => o with { DirtyRegionBytes = Region, ActivityExtentBytes = Extent, ActivityLogExtents = 2 }, new MemoryStorageDirectory("state"));
        new NodeStateStore(primary.Directory).Save(new NodeState { PairId = "pair-1", Role = NodeRole.Primary, Generations = PairData });
        LinkId link = primary.StartConnected();
        primary.Pump(link);
        primary.Write(1, 0);
        primary.Host.RequestCheckpoint(10);
        primary.Pump(link);
        primary.Host.OnHeartbeatTick();
        primary.Pump(link);
        primary.Write(2, 9 * Extent);
        primary.Pump(LinkId.None);
        return (primary.Directory, primary.Host.DirtyLog!.DurableAcknowledgedEpoch);
    }

    /// <summary>The generations of the node that took over from the pair's data.</summary>
    private static DataGenerations Promoted() => PairData.Begin(GenerationMark.Draw(GenerationCause.Promotion, DateTimeOffset.UnixEpoch));

    /// <summary>A secondary that committed epochs 1..<paramref name="takeoverEpoch"/> of the pair's data and was promoted.</summary>
    private static MemoryStorageDirectory PromotedSecondary(long takeoverEpoch)
    {
        var secondary = new SecondaryHarness();
        LinkId link = secondary.Connect();
        secondary.RunStorage();
        for (long epoch = 1; epoch <= takeoverEpoch; epoch++)
        {
            secondary.SendEpoch(link, epoch, epoch);
        }

        secondary.RunStorage();
        Assert.Null(secondary.Host.Promote("operator"));
        secondary.RunStorage();
        Assert.Equal([takeoverEpoch], secondary.Promotions);
        Assert.Equal(new TakeoverPoint(takeoverEpoch, PairData.Current!.Id), new NodeStateStore(secondary.Directory).Load()!.PromotedFrom);
        return secondary.Directory;
    }

    private static PrimaryHarness PromotedPrimary(MemoryStorageDirectory directory) =>
        new(o => o with { RunsPromotedNode = true, DirtyRegionBytes = Region, ActivityExtentBytes = Extent, ActivityLogExtents = 2 }, directory);

    private static PrimaryHarness RunningPromoted(long takeoverEpoch)
    {
        PrimaryHarness b = PromotedPrimary(PromotedSecondary(takeoverEpoch));
        b.Host.Start();
        b.Pump(LinkId.None);
        return b;
    }

    private static FormerPrimaryWrites Former(long acknowledged, params (long Offset, long Length)[] ranges) =>
        FormerPrimaryWrites.From(PairData.Current!.Id, acknowledged, ranges, PrimaryHarness.ImageBytes);

    /// <summary>The old primary, restarted as a secondary and demoted, welcomes the new primary's next attempt.</summary>
    private static LinkId Reconnect(PrimaryHarness b, FormerPrimaryWrites former)
    {
        b.Host.OnReconnectDue();
        LinkId link = b.Connect();
        WelcomeMessage welcome = b.Welcome(generations: PairData);
        welcome.FormerPrimaryWrites = former;
        b.Host.OnFrame(link, PrimaryHarness.Input(welcome));
        return link;
    }

    private static ResyncStartMessage ResyncStartOn(PrimaryHarness h, LinkId link) =>
        (ResyncStartMessage)h.Actions.Of<Sent>().Single(s => s.Link == link && s.Type == FrameType.ResyncStart).Message;

    private static IEnumerable<long> ReadsAfterResyncStart(PrimaryHarness h) => h.Actions.Of<ResyncRead>().SelectMany(r => Enumerable.Range(0, r.Length / Region).Select(i => r.Offset + ((long)i * Region)));
}
