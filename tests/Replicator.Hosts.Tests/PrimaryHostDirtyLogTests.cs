using Replicator.Core.Blocks;
using Replicator.Core.Storage;
using Replicator.Hosts.Links;
using Replicator.Hosts.Primary;
using Replicator.Hosts.Storage;
using Replicator.Hosts.Tests.Support;
using Replicator.InMemory;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using static Replicator.Hosts.Tests.Support.RecordingPrimaryActions;

namespace Replicator.Hosts.Tests;

/// <summary>The dirty log as the primary's host keeps it: 4 KiB regions, 16 KiB extents, two of them hot at most.</summary>
public sealed class PrimaryHostDirtyLogTests
{
    private const int Region = 4096;
    private const int Extent = 16 * 1024;

    private readonly MemoryStorageDirectory _directory = new("state");

    [Fact]
    public void A_write_into_a_cold_extent_waits_for_a_durable_header_naming_it_and_one_into_a_hot_extent_goes_at_once()
    {
        PrimaryHarness h = Connected();

        h.Write(1, 0);
        Assert.Empty(h.Actions.Of<Issued>());
        DirtyLogOperation adding = Assert.Single(h.Actions.Of<DirtyLogOperation>());
        Assert.Equal([DirtyLogStepKind.WriteHeader, DirtyLogStepKind.FlushLog], adding.Steps.Select(s => s.Kind));
        Assert.Equal([0L], adding.Steps[0].Header!.ActiveExtents);

        h.RunDirtyLog(adding);
        Assert.Equal(1, Assert.Single(h.Actions.Of<Issued>()).RequestId);

        // Same extent: no log write at all on the write's path.
        h.Write(2, Extent - Region);
        Assert.Equal([1L, 2], h.Actions.Of<Issued>().Select(i => i.RequestId));
        Assert.Single(h.Actions.Of<DirtyLogOperation>());
    }

    [Fact]
    public void An_extent_leaves_the_activity_log_only_after_the_bitmap_durably_names_what_the_secondary_lacks_there()
    {
        PrimaryHarness h = Connected();
        LinkId link = h.Host.CurrentLink;
        h.Write(1, 0);
        h.Write(2, Extent);
        h.Pump(link);

        h.Write(3, 2 * Extent);
        DirtyLogOperation evicting = h.Actions.Of<DirtyLogOperation>().Last();
        Assert.Equal([DirtyLogStepKind.WriteSectors, DirtyLogStepKind.FlushLog, DirtyLogStepKind.WriteHeader, DirtyLogStepKind.FlushLog], evicting.Steps.Select(s => s.Kind));
        IReadOnlyList<long> active = evicting.Steps[2].Header!.ActiveExtents;
        Assert.Equal(2, active.Count);
        Assert.Contains(2L, active);
        long evicted = active.Contains(0L) ? 1 : 0;

        h.RunDirtyLog(evicting);
        using DirtyLogFile file = DirtyLogFile.Open(_directory)!;
        byte[] bitmap = file.Load().Bitmap;

        // The evicted extent's written region is not yet acknowledged: its bit is set, and only it.
        long region = evicted * Extent / Region;
        Assert.True(BitSet(bitmap, region));
        Assert.Equal(1, bitmap.Sum(b => System.Numerics.BitOperations.PopCount(b)));
    }

    [Fact]
    public void A_primary_killed_while_writing_restarts_and_copies_only_what_its_bitmap_and_hot_extents_name()
    {
        PrimaryHarness first = Connected();
        LinkId link = first.Host.CurrentLink;
        first.Write(1, 0);
        first.Host.RequestCheckpoint(10);
        first.Pump(link);
        first.Write(2, 5 * Extent);
        first.Pump(link);
        long acknowledged = first.Host.Engine!.LastAcknowledgedEpoch;

        // Killed: no clean stop, the host is simply gone; its state directory stays.
        PrimaryHarness again = WithLog(_directory);
        again.Host.Start();
        RestoredDirtyLog restored = again.Host.RestoredDirtyLog!;
        Assert.True(restored.AfterCrash);
        Assert.Contains(0L, restored.Regions);
        Assert.Contains(5L * Extent / Region, restored.Regions);

        LinkId next = again.Connect();
        again.Host.OnFrame(next, PrimaryHarness.Input(again.Welcome(epoch: acknowledged, sequence: 1)));
        ResyncStartMessage start = ResyncStartOn(again, next);
        Assert.False(start.WholeImage);
        Assert.Equal(2L * Extent, start.Bytes); // the two hot extents: the hot set, not the 1 MiB image
        Assert.Equal(acknowledged, start.BaseEpoch);
        Assert.True(start.FirstEpoch > acknowledged);
    }

    [Fact]
    public void A_restarted_primary_starts_its_stream_past_what_the_secondary_sealed_or_was_announced_not_only_what_it_committed()
    {
        var h = WithLog(_directory);
        h.Host.Start();
        LinkId link = h.Connect();

        // The dead incarnation had announced a resync from epoch 8 (sequence 61) that never committed.
        WelcomeMessage welcome = h.Welcome(epoch: 5, sequence: 40);
        welcome.SeenEpoch = 7;
        welcome.SeenSequence = 60;
        h.Host.OnFrame(link, PrimaryHarness.Input(welcome));

        ResyncStartMessage start = ResyncStartOn(h, link);
        Assert.Equal(5, start.BaseEpoch);
        Assert.True(start.FirstEpoch > 7, $"the new stream starts at epoch {start.FirstEpoch}, which the secondary already saw");
        Assert.True(start.FirstSequence > 60, $"the new stream starts at sequence {start.FirstSequence}, which the secondary already saw");
    }

    [Fact]
    public void A_log_that_never_learned_which_generation_its_secondary_holds_gives_a_whole_image_sync()
    {
        var h = WithLog(_directory);
        h.StartConnected();             // the header naming the secondary's generation never lands
        h.Write(1, 0);

        PrimaryHarness again = WithLog(_directory);
        again.Host.Start();
        LinkId next = again.Connect();
        again.Host.OnFrame(next, PrimaryHarness.Input(again.Welcome()));

        Assert.True(ResyncStartOn(again, next).WholeImage);
    }

    [Fact]
    public void A_clean_stop_closes_the_log_before_the_stop_is_reported_and_the_next_start_finds_it_closed()
    {
        PrimaryHarness h = Connected();
        LinkId link = h.Host.CurrentLink;
        h.Write(1, 0);
        h.Pump(link);

        h.Host.StopCleanly(4);
        h.Pump(link);
        int closed = h.Actions.Calls.FindLastIndex(c => c is DirtyLogOperation op && op.Steps.Any(s => s.Header is { InUse: false, ActiveExtents.Count: 0 }));
        Assert.True(closed >= 0);
        Assert.True(closed < h.Actions.Calls.FindIndex(c => c is WaiterCompleted));

        PrimaryHarness again = WithLog(_directory);
        again.Host.Start();
        Assert.False(again.Host.RestoredDirtyLog!.AfterCrash);
        Assert.Empty(again.Host.RestoredDirtyLog.Regions);
    }

    [Fact]
    public void Cleaning_flushes_the_image_then_records_the_checkpoint_then_clears_what_the_secondary_holds()
    {
        PrimaryHarness h = Connected();
        LinkId link = h.Host.CurrentLink;
        h.Write(1, 0);
        h.Write(2, Extent);
        h.Pump(link);
        h.Write(3, 2 * Extent);     // evicts one: its bit is set
        h.Pump(link);
        h.Host.RequestCheckpoint(9);
        h.Pump(link);               // acknowledged
        Assert.Equal(1, h.Host.DirtyLog!.DirtyRegions);

        h.Host.OnHeartbeatTick();
        DirtyLogOperation cleaning = h.Actions.Of<DirtyLogOperation>().Last();
        Assert.Equal(
            [DirtyLogStepKind.FlushImage, DirtyLogStepKind.WriteHeader, DirtyLogStepKind.FlushLog, DirtyLogStepKind.WriteSectors, DirtyLogStepKind.FlushLog],
            cleaning.Steps.Select(s => s.Kind));
        Assert.Equal(h.Host.Engine!.LastAcknowledgedEpoch, cleaning.Steps[1].Header!.AcknowledgedEpoch);
        h.Pump(link);
        Assert.Equal(0, h.Host.DirtyLog.DirtyRegions);
    }

    [Fact]
    public void A_log_that_cannot_be_written_is_disowned_in_the_state_record_before_the_held_write_goes_to_disk()
    {
        PrimaryHarness h = Connected();
        h.Write(1, 0);
        DirtyLogOperation adding = h.Actions.Of<DirtyLogOperation>().Last();

        h.Host.OnDirtyLogWritten(adding.Id, "no space left on device");

        Assert.Equal(1, Assert.Single(h.Actions.Of<Issued>()).RequestId);
        Assert.Equal(0UL, new NodeStateStore(_directory).Load()!.DirtyLogId);
        h.Write(2, 8 * Extent);
        Assert.Equal(2, h.Actions.Of<Issued>().Count());

        PrimaryHarness again = WithLog(_directory);
        again.Host.Start();
        Assert.Null(again.Host.RestoredDirtyLog);
    }

    [Fact]
    public void A_damaged_log_stops_the_start_naming_the_file_and_is_left_as_it_is()
    {
        Connected();
        using (IBlockDevice device = _directory.Open(DirtyLogFile.FileName))
        {
            device.Write(8, new byte[] { 1, 2, 3 });
            device.Write(DirtyLogFile.HeaderSlotBytes + 8, new byte[] { 1, 2, 3 });
        }

        byte[] before = _directory.Peek(DirtyLogFile.FileName)!.Contents.ToArray();
        PrimaryHarness again = WithLog(_directory);

        var damage = Assert.Throws<InvalidDataException>(again.Host.Start);
        Assert.Contains("state/dirty-log.bin is damaged", damage.Message, StringComparison.Ordinal);
        Assert.Equal(before, _directory.Peek(DirtyLogFile.FileName)!.Contents.ToArray());
    }

    private static PrimaryHarness WithLog(MemoryStorageDirectory directory) =>
        new(o => o with { DirtyRegionBytes = Region, ActivityExtentBytes = Extent, ActivityLogExtents = 2 }, directory);

    /// <summary>Started, replicating, and the log's first header (naming the secondary's generation) landed.</summary>
    private PrimaryHarness Connected()
    {
        PrimaryHarness h = WithLog(_directory);
        LinkId link = h.StartConnected();
        h.Pump(link);
        h.Forget();
        return h;
    }

    private static ResyncStartMessage ResyncStartOn(PrimaryHarness h, LinkId link) =>
        (ResyncStartMessage)h.Actions.Of<Sent>().Single(s => s.Link == link && s.Type == FrameType.ResyncStart).Message;

    private static bool BitSet(byte[] bitmap, long region) => (bitmap[region >> 3] & (1 << (int)(region & 7))) != 0;
}
