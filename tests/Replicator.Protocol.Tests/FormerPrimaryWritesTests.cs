using Replicator.Protocol.Messages;

namespace Replicator.Protocol.Tests;

public sealed class FormerPrimaryWritesTests
{
    private const long Image = 1L << 30;

    [Fact]
    public void Touching_ranges_are_merged_and_the_result_is_well_formed()
    {
        FormerPrimaryWrites writes = FormerPrimaryWrites.From(7, 3, [(0, 4096), (4096, 4096), (65536, 512)], Image);

        Assert.Equal([0L, 8192, 65536, 512], writes.Ranges);
        Assert.Equal(8704, writes.Bytes);
        Assert.Null(writes.Problem(Image));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(100)]
    public void Too_many_ranges_are_widened_until_they_fit_and_never_name_a_byte_less(int maxRanges)
    {
        var rng = new Random(maxRanges);
        List<(long Offset, long Length)> written = [];
        long at = 0;
        for (int i = 0; i < 500; i++)
        {
            at += rng.Next(1, 1 << 20);
            long length = rng.Next(1, 1 << 16);
            written.Add((at, length));
            at += length;
        }

        FormerPrimaryWrites writes = FormerPrimaryWrites.From(7, 3, written, Image, maxRanges);

        Assert.True(writes.RangeCount <= maxRanges);
        Assert.Null(writes.Problem(Image));
        foreach ((long offset, long length) in written)
        {
            Assert.Contains(writes.Pairs(), r => r.Offset <= offset && r.Offset + r.Length >= offset + length);
        }
    }

    [Theory]
    [InlineData(new long[] { 8192, 4096, 0, 4096 }, "out of order")]
    [InlineData(new long[] { 0, 4096, 4096, 4096 }, "out of order")]
    [InlineData(new long[] { 0, 0 }, "empty")]
    [InlineData(new long[] { Image - 4096, 8192 }, "past the")]
    [InlineData(new long[] { -1, 4096 }, "out of order")]
    [InlineData(new long[] { 0 }, "pairs")]
    public void Ranges_a_peer_sent_that_are_not_well_formed_are_named(long[] ranges, string problem)
    {
        var writes = new FormerPrimaryWrites { Known = true, Ranges = ranges };

        Assert.Contains(problem, writes.Problem(Image), StringComparison.Ordinal);
    }
}
