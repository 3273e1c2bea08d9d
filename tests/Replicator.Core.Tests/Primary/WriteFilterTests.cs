using NSubstitute;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Primary;
using Replicator.Core.Tests.Support;
using static Replicator.Core.Tests.Support.Records;

namespace Replicator.Core.Tests.Primary;

/// <summary>The write filter: sequence numbers, overlap order, mirroring, failures that are never ignored.</summary>
public class WriteFilterTests
{
    private readonly IPrimaryActions _actions = Substitute.For<IPrimaryActions>();
    private readonly PrimaryEngine _primary;

    public WriteFilterTests() =>
        _primary = new PrimaryEngine(new PrimaryOptions { Geometry = Geometry, SecondaryBufferBytes = 1 << 20 }, _actions);

    [Fact]
    public void Every_request_gets_the_next_sequence_number_and_is_mirrored_when_it_completes_locally()
    {
        _primary.Submit(10, BlockRequest.Write(0, 4096), Filled(4096, 1));
        _primary.Submit(11, BlockRequest.Flush(), default);
        _primary.Submit(12, BlockRequest.Trim(8192, 4096), default);
        Assert.Empty(_actions.Mirrors());

        _primary.OnLocalCompleted(12, true);
        _primary.OnLocalCompleted(10, true);
        _primary.OnLocalCompleted(11, true);

        Assert.Equal([(3L, BlockOp.Trim), (1L, BlockOp.Write), (2L, BlockOp.Flush)], _actions.Mirrors().Select(m => (m.Sequence, m.Request.Op)));
        Assert.All(_actions.Mirrors(), m => Assert.Equal(1, m.Epoch));
        _actions.Received(1).CompleteGuest(10, RequestStatus.Ok);
    }

    [Fact]
    public void The_mirror_goes_out_before_the_guest_is_told_so_the_payload_is_not_used_after()
    {
        _primary.Submit(1, BlockRequest.Write(0, 4096), Filled(4096, 1));
        _primary.OnLocalCompleted(1, true);

        Assert.Equal(["IssueLocal", "SendMirror", "CompleteGuest"], _actions.Names());
    }

    [Fact]
    public void Flush_and_FUA_are_mirrored_as_barriers()
    {
        _primary.Submit(1, BlockRequest.Write(0, 4096, fua: true), Filled(4096, 1));
        _primary.Submit(2, BlockRequest.Flush(), default);
        _primary.OnLocalCompleted(1, true);
        _primary.OnLocalCompleted(2, true);

        Assert.All(_actions.Mirrors(), m => Assert.True(m.Request.IsBarrier));
    }

    [Fact]
    public void An_overlapping_write_waits_for_the_one_in_flight_and_they_are_mirrored_in_that_order()
    {
        _primary.Submit(1, BlockRequest.Write(0, 8192), Filled(8192, 1));
        _primary.Submit(2, BlockRequest.Write(4096, 4096), Filled(4096, 2));   // overlaps 1
        _primary.Submit(3, BlockRequest.Write(65536, 4096), Filled(4096, 3));  // overlaps nothing
        Assert.Equal([1L, 3], _actions.Issued());

        _primary.OnLocalCompleted(1, true);
        Assert.Equal([1L, 3, 2], _actions.Issued());
        _primary.OnLocalCompleted(2, true);

        Assert.Equal([1L, 2], _actions.Mirrors().Select(m => m.Sequence));
    }

    [Fact]
    public void A_chain_of_overlaps_is_released_one_at_a_time()
    {
        _primary.Submit(1, BlockRequest.Write(0, 4096), Filled(4096, 1));
        _primary.Submit(2, BlockRequest.Zeroes(0, 4096), default);
        _primary.Submit(3, BlockRequest.Write(0, 512), Filled(512, 3));
        Assert.Equal([1L], _actions.Issued());

        _primary.OnLocalCompleted(1, true);
        Assert.Equal([1L, 2], _actions.Issued());
        _primary.OnLocalCompleted(2, true);
        Assert.Equal([1L, 2, 3], _actions.Issued());
    }

    [Theory]
    [InlineData(-512, 512, "not aligned")]
    [InlineData(100, 512, "not aligned")]
    [InlineData(1 << 20, 512, "beyond the disk")]
    [InlineData(0, 128 * 1024, "outside 1..")]
    public void A_malformed_request_is_refused_with_a_reason_and_never_mirrored(long offset, int length, string reason)
    {
        string? refused = _primary.Submit(1, BlockRequest.Zeroes(offset, length), default);

        Assert.Contains(reason, refused, StringComparison.Ordinal);
        _actions.Received(1).CompleteGuest(1, RequestStatus.Invalid);
        Assert.Empty(_actions.Issued());
    }

    [Fact]
    public void A_failed_local_write_is_reported_and_its_sequence_number_still_travels()
    {
        _primary.Submit(1, BlockRequest.Write(0, 4096), Filled(4096, 1));
        _primary.OnLocalCompleted(1, false);

        _actions.Received(1).CompleteGuest(1, RequestStatus.IoError);
        MirrorRecord skipped = Assert.Single(_actions.Mirrors());
        Assert.Equal(BlockOp.Skipped, skipped.Request.Op);
        Assert.True(skipped.Payload.IsEmpty);
        Assert.Contains(0L, _primary.RegionsSecondaryMayLack());
    }

    [Fact]
    public void A_lost_secondary_marks_the_pair_degraded_and_writes_go_on_locally()
    {
        _primary.OnSecondaryLost("connection reset");
        _actions.Received(1).SecondaryDegraded("connection reset");

        _primary.Submit(1, BlockRequest.Write(0, 4096), Filled(4096, 1));
        _primary.OnLocalCompleted(1, true);
        Assert.Empty(_actions.Mirrors());
        _actions.Received(1).CompleteGuest(1, RequestStatus.Ok);
        Assert.Equal(PrimaryEngine.NoCheckpoint, _primary.RequestCheckpoint(CheckpointTrigger.Explicit));
        Assert.Equal([0L], _primary.RegionsSecondaryMayLack());
    }

    [Fact]
    public void A_completion_for_an_unknown_request_is_a_driver_bug()
    {
        Assert.Throws<InvalidOperationException>(() => _primary.OnLocalCompleted(99, true));
        _primary.Submit(1, BlockRequest.Flush(), default);
        Assert.Throws<InvalidOperationException>(() => _primary.Submit(1, BlockRequest.Flush(), default));
    }
}
