using Replicator.Core.Blocks;
using Replicator.Core.Primary;

namespace Replicator.Core.Tests.Primary;

/// <summary>
/// The overlap order (I1): requests that share a byte are never on the disk at once, and requests
/// that only touch — one ends exactly where the other begins — are not held back by each other.
/// </summary>
public class OverlapTrackerTests
{
    private readonly OverlapTracker _tracker = new();
    private readonly List<long> _ready = new();

    [Theory]
    [InlineData(4096, 4096)] // starts where the first ends
    [InlineData(0, 4096)]    // ends where the first begins (the first is at 4096)
    public void Touching_requests_are_issued_at_once(long offset, int length)
    {
        Assert.True(_tracker.Add(1, BlockRequest.Write(offset == 0 ? 4096 : 0, 4096)));
        Assert.True(_tracker.Add(2, BlockRequest.Write(offset, length)));
    }

    [Theory]
    [InlineData(4095 - 511, 512)] // its last sector is the first's last
    [InlineData(0, 512)]          // its first sector is the first's first
    [InlineData(1024, 512)]       // inside
    [InlineData(0, 8192)]         // around it
    public void Requests_sharing_a_sector_wait_for_the_one_before(long offset, int length)
    {
        Assert.True(_tracker.Add(1, BlockRequest.Write(0, 4096)));
        Assert.False(_tracker.Add(2, BlockRequest.Write(offset, length)));

        _tracker.Complete(1, _ready);
        Assert.Equal([2L], _ready);
    }

    [Fact]
    public void A_request_waits_while_any_earlier_overlapping_request_is_in_flight()
    {
        _tracker.Add(1, BlockRequest.Write(0, 4096));
        _tracker.Add(2, BlockRequest.Write(8192, 4096));
        Assert.False(_tracker.Add(3, BlockRequest.Write(0, 12288))); // overlaps both

        _tracker.Complete(1, _ready);
        Assert.Empty(_ready);
        _tracker.Complete(2, _ready);
        Assert.Equal([3L], _ready);
    }

    [Fact]
    public void A_waiting_request_is_released_once_and_only_once()
    {
        _tracker.Add(1, BlockRequest.Write(0, 4096));
        _tracker.Add(2, BlockRequest.Write(0, 4096));
        _tracker.Add(3, BlockRequest.Write(65536, 512));
        _tracker.Complete(1, _ready);
        Assert.Equal([2L], _ready);

        _ready.Clear();
        _tracker.Complete(3, _ready); // completing an unrelated request releases nothing again
        Assert.Empty(_ready);
        Assert.Equal(1, _tracker.Count);
    }

    [Fact]
    public void Waiting_requests_keep_their_order_among_themselves()
    {
        _tracker.Add(1, BlockRequest.Write(0, 4096));
        Assert.False(_tracker.Add(2, BlockRequest.Write(0, 512)));
        Assert.False(_tracker.Add(3, BlockRequest.Write(0, 512)));

        _tracker.Complete(1, _ready);
        Assert.Equal([2L], _ready); // 3 still waits behind 2
        _ready.Clear();
        _tracker.Complete(2, _ready);
        Assert.Equal([3L], _ready);
    }

    [Fact]
    public void Completing_an_unknown_request_id_changes_nothing()
    {
        _tracker.Add(1, BlockRequest.Write(0, 4096));
        _tracker.Add(2, BlockRequest.Write(0, 4096));

        _tracker.Complete(99, _ready);
        Assert.Empty(_ready);
        Assert.Equal(2, _tracker.Count);

        _tracker.Complete(1, _ready);
        Assert.Equal([2L], _ready);
        Assert.Equal(1, _tracker.Count);
    }
}
