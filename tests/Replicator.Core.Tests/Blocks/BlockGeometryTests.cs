using Replicator.Core.Blocks;

namespace Replicator.Core.Tests.Blocks;

/// <summary>The check every request passes, at the edges a peer or a client can reach.</summary>
public sealed class BlockGeometryTests
{
    private static readonly BlockGeometry Geometry = new(1 << 20, 64 * 1024);

    [Theory]
    [InlineData(0L, 4096)]
    [InlineData((1L << 20) - 4096, 4096)]
    public void A_range_inside_the_disk_is_accepted(long offset, int length) =>
        Assert.Null(Geometry.Validate(BlockRequest.Write(offset, length), length));

    [Theory]
    [InlineData((1L << 20) - 512, 4096)]
    [InlineData(0x7FFF_FFFF_FFFF_FE00L, 4096)]     // offset + length wraps past long.MaxValue
    public void A_range_ending_beyond_the_disk_is_refused_even_where_its_end_wraps(long offset, int length) =>
        Assert.NotNull(Geometry.Validate(BlockRequest.Write(offset, length), length));
}
