using Replicator.Nbd.Protocol;
using Replicator.Runtime.Storage;

namespace Replicator.Runtime.Tests.Storage;

/// <summary>What the image tells NBD about its blocks: holes and data (block status), fast zeroing (FAST_ZERO), read-ahead (CACHE).</summary>
public sealed class ImageFileAllocationTests : IDisposable
{
    private const int Block = 64 << 10; // above any file system's block, so holes land where the test puts them

    private readonly string _directory = Directory.CreateTempSubdirectory("replicator-allocation-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void A_sparse_image_reports_its_written_range_as_data_and_the_rest_as_zero_holes()
    {
        using ImageFile image = NewImage(16 * Block);
        image.Write(4 * Block, Filled(2 * Block, 0x42));
        var extents = new NbdExtent[16];

        int count = image.DescribeAllocation(Block, 14 * Block, extents);

        Assert.Equal(
            [new NbdExtent(3 * Block, NbdExtentState.Hole | NbdExtentState.Zero), new NbdExtent(2 * Block, NbdExtentState.Data), new NbdExtent(9 * Block, NbdExtentState.Hole | NbdExtentState.Zero)],
            extents.Take(count));
    }

    [Fact]
    public void Allocation_stops_when_the_room_for_extents_is_full_and_never_runs_past_the_range()
    {
        using ImageFile image = NewImage(16 * Block);
        image.Write(2 * Block, Filled(Block, 1));
        image.Write(6 * Block, Filled(Block, 1));
        var one = new NbdExtent[1];
        var many = new NbdExtent[8];

        Assert.Equal(1, image.DescribeAllocation(0, 16 * Block, one));
        Assert.Equal(new NbdExtent(2 * Block, NbdExtentState.Hole | NbdExtentState.Zero), one[0]);
        int count = image.DescribeAllocation((2 * Block) + 512, (5 * Block) - 1024, many); // starts inside data, ends inside the second data
        Assert.Equal(
            [new NbdExtent(Block - 512, NbdExtentState.Data), new NbdExtent(3 * Block, NbdExtentState.Hole | NbdExtentState.Zero), new NbdExtent(Block - 512, NbdExtentState.Data)],
            many.Take(count));
        Assert.Throws<ArgumentOutOfRangeException>(() => image.DescribeAllocation(15 * Block, 2 * Block, many));
    }

    [Fact]
    public void A_fully_written_image_is_one_data_extent()
    {
        using ImageFile image = NewImage(4 * Block);
        image.Write(0, Filled(4 * Block, 9));
        var extents = new NbdExtent[4];

        Assert.Equal(1, image.DescribeAllocation(0, 4 * Block, extents));
        Assert.Equal(new NbdExtent(4 * Block, NbdExtentState.Data), extents[0]);
    }

    [Fact]
    public void Zeroing_reads_back_zeroes_and_is_fast_where_the_file_system_zeroes_ranges()
    {
        using ImageFile image = NewImage(8 * Block);
        image.Write(0, Filled(8 * Block, 0x77));

        image.WriteZeroes(Block + 512, (2 * Block) - 1024);
        image.Flush();

        byte[] read = new byte[8 * Block];
        image.Read(0, read);
        Assert.All(read.AsSpan(Block + 512, (2 * Block) - 1024).ToArray(), b => Assert.Equal(0, b));
        Assert.All(read.AsSpan(0, Block + 512).ToArray(), b => Assert.Equal(0x77, b));
        Assert.All(read.AsSpan((3 * Block) - 512).ToArray(), b => Assert.Equal(0x77, b));
        Assert.Equal(8 * Block, new FileInfo(image.Path).Length);

        // ext4 and XFS (what these machines and most hosts run) zero a range without writing it.
        string fileSystem = new DriveInfo(image.Path).DriveFormat;
        if (fileSystem is "ext4" or "xfs")
        {
            Assert.True(image.ZeroesFast, $"zeroing on {fileSystem} fell back to writing");
        }
    }

    [Fact]
    public void A_growable_file_zeroes_by_writing_so_zeroes_past_its_end_extend_it()
    {
        string path = Path.Combine(_directory, "journal");
        using ImageFile file = ImageFile.OpenGrowable(path, create: true);

        file.WriteZeroes(0, 3 * Block);

        Assert.Equal(3 * Block, file.Size);
        Assert.Equal(3 * Block, new FileInfo(path).Length);
    }

    [Fact]
    public async Task Prefetch_takes_any_range_inside_the_image_and_refuses_one_outside()
    {
        using ImageFile image = NewImage(4 * Block);

        await image.PrefetchAsync(0, 4 * Block, CancellationToken.None);
        image.Prefetch(Block, 512);

        Assert.Throws<ArgumentOutOfRangeException>(() => image.Prefetch(3 * Block, 2 * Block));
    }

    private ImageFile NewImage(long size) => ImageFile.Create(Path.Combine(_directory, $"{Guid.NewGuid():N}.img"), size);

    private static byte[] Filled(int length, byte value)
    {
        byte[] bytes = new byte[length];
        bytes.AsSpan().Fill(value);
        return bytes;
    }
}
