using Replicator.Core.Primary;

namespace Replicator.Core.Tests.Primary;

/// <summary>The map of what the secondary may lack: a region unknown to it stays so until it is copied.</summary>
public class DirtyRegionMapTests
{
    private readonly DirtyRegionMap _map = new(diskBytes: 10 * 4096 + 512, regionBytes: 4096);

    [Fact]
    public void A_write_marks_every_region_it_touches_with_its_epoch()
    {
        _map.Mark(4096 - 512, 1024, epoch: 3);

        Assert.Equal([0L, 1], _map.RegionsNewerThan(2));
        Assert.Empty(_map.RegionsNewerThan(3));
    }

    [Fact]
    public void A_region_pending_a_copy_stays_dirty_through_later_guest_writes_until_copied()
    {
        _map.MarkPending(2);
        _map.Mark(2 * 4096, 512, epoch: 5);
        Assert.Equal([2L], _map.RegionsNewerThan(100));

        _map.MarkCopied(2, epoch: 6);
        Assert.Empty(_map.RegionsNewerThan(6));
        Assert.Equal([2L], _map.RegionsNewerThan(5));
    }

    [Fact]
    public void A_diverged_range_stays_dirty_through_later_writes()
    {
        _map.MarkDiverged(0, 512);
        _map.Mark(0, 4096, epoch: 9);

        Assert.Equal([0L], _map.RegionsNewerThan(1_000));
    }

    [Fact]
    public void The_last_region_is_as_short_as_the_disk()
    {
        Assert.Equal((10L * 4096, 512L), _map.RangeOf(10));
        Assert.Equal((4096L, 4096L), _map.RangeOf(1));
    }
}
