using Replicator.Core.Storage;
using Replicator.Hosts.Storage;
using Replicator.InMemory;

namespace Replicator.Hosts.Tests;

public sealed class DirtyLogFileTests
{
    private static readonly DirtyLogGeometry Geometry = new(DiskBytes: 64L << 20, RegionBytes: 4096, ExtentBytes: 1 << 20);
    private readonly MemoryStorageDirectory _directory = new("state");

    [Fact]
    public void A_log_whose_creation_was_cut_short_reads_as_never_written_not_as_damage()
    {
        using DirtyLogFile file = DirtyLogFile.Create(_directory, Geometry, logId: 7);

        Assert.Null(file.Load().Header);
    }

    [Fact]
    public void The_newest_intact_header_is_read_with_the_bitmap_it_goes_with()
    {
        using DirtyLogFile file = DirtyLogFile.Create(_directory, Geometry, logId: 7);
        byte[] bits = new byte[DirtyLogGeometry.BitmapBytesPerSector];
        bits[3] = 0b1000_0001;
        file.WriteSector(7, 2, bits);
        file.WriteHeader(Header(1, active: [5]));
        file.WriteHeader(Header(2, active: [5, 9]));

        DirtyLogContents contents = file.Load();

        Assert.Equal(2, contents.Header!.Transaction);
        Assert.Equal([5L, 9], contents.Header.ActiveExtents);
        Assert.Equal(Geometry, contents.Header.Geometry);
        Assert.True(contents.Header.InUse);
        Assert.Equal(0b1000_0001, contents.Bitmap[(2 * DirtyLogGeometry.BitmapBytesPerSector) + 3]);
        Assert.Single(contents.Bitmap, b => b != 0);
    }

    [Fact]
    public void A_header_torn_by_a_crash_leaves_the_one_before_it()
    {
        using (DirtyLogFile file = DirtyLogFile.Create(_directory, Geometry, logId: 7))
        {
            file.WriteHeader(Header(1, active: [5]));
            file.WriteHeader(Header(2, active: [5, 9]));
        }

        // Transaction 2 lives in slot 0: half of it new, half of it whatever was there.
        Spoil(offset: 2048, length: 512);
        using DirtyLogFile reopened = DirtyLogFile.Open(_directory)!;

        Assert.Equal([5L], reopened.Load().Header!.ActiveExtents);
    }

    [Fact]
    public void Two_headers_that_do_not_verify_are_damage_named_with_the_file_and_nothing_is_changed()
    {
        using (DirtyLogFile file = DirtyLogFile.Create(_directory, Geometry, logId: 7))
        {
            file.WriteHeader(Header(1, active: [5]));
            file.WriteHeader(Header(2, active: [5, 9]));
        }

        Spoil(offset: 100, length: 8);
        Spoil(offset: 4096 + 100, length: 8);
        byte[] before = _directory.Peek(DirtyLogFile.FileName)!.Contents.ToArray();
        using DirtyLogFile reopened = DirtyLogFile.Open(_directory)!;

        var damage = Assert.Throws<InvalidDataException>(() => reopened.Load());
        Assert.Contains("state/dirty-log.bin is damaged: neither of its two headers verifies", damage.Message, StringComparison.Ordinal);
        Assert.Equal(before, _directory.Peek(DirtyLogFile.FileName)!.Contents.ToArray());
    }

    [Fact]
    public void A_bitmap_sector_that_does_not_verify_is_damage_never_a_torn_write()
    {
        using (DirtyLogFile file = DirtyLogFile.Create(_directory, Geometry, logId: 7))
        {
            file.WriteHeader(Header(1, active: []));
        }

        Spoil(offset: DirtyLogFile.BitmapOffset + (3 * DirtyLogFile.SectorBytes) + 10, length: 1);
        using DirtyLogFile reopened = DirtyLogFile.Open(_directory)!;

        var damage = Assert.Throws<InvalidDataException>(() => reopened.Load());
        Assert.Contains("bitmap sector 3", damage.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bitmap_sector_of_another_log_does_not_verify_in_this_one()
    {
        using (DirtyLogFile file = DirtyLogFile.Create(_directory, Geometry, logId: 7))
        {
            file.WriteSector(logId: 8, 0, new byte[DirtyLogGeometry.BitmapBytesPerSector]);
            file.WriteHeader(Header(1, active: []));
        }

        using DirtyLogFile reopened = DirtyLogFile.Open(_directory)!;

        Assert.Throws<InvalidDataException>(() => reopened.Load());
    }

    [Theory]
    [InlineData(DirtyLogFile.BitmapOffset + 100L, "too short for the bitmap its header describes")]
    [InlineData(100L, "shorter than its two headers")]
    public void A_log_that_lost_its_end_is_damage_named_with_the_file(long size, string what)
    {
        using (DirtyLogFile file = DirtyLogFile.Create(_directory, Geometry, logId: 7))
        {
            file.WriteHeader(Header(1, active: []));
            file.Flush();
        }

        using (IBlockDevice device = _directory.Open(DirtyLogFile.FileName))
        {
            device.SetSize(size);
        }

        using DirtyLogFile reopened = DirtyLogFile.Open(_directory)!;
        var damage = Assert.Throws<InvalidDataException>(() => reopened.Load());
        Assert.Contains("state/dirty-log.bin is damaged", damage.Message, StringComparison.Ordinal);
        Assert.Contains(what, damage.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_log_file_is_one_whose_creation_was_cut_short()
    {
        using (IBlockDevice device = _directory.Create(DirtyLogFile.FileName, 0))
        {
        }

        using DirtyLogFile reopened = DirtyLogFile.Open(_directory)!;
        Assert.Null(reopened.Load().Header);
    }

    private static DirtyLogHeader Header(long transaction, long[] active) =>
        new(transaction, 7, Geometry, InUse: true, AcknowledgedEpoch: 4, AcknowledgedGeneration: 99, active);

    private void Spoil(long offset, int length)
    {
        using IBlockDevice device = _directory.Open(DirtyLogFile.FileName);
        byte[] bytes = new byte[length];
        device.Read(offset, bytes);
        for (int i = 0; i < length; i++)
        {
            bytes[i] ^= 0x5a;
        }

        device.Write(offset, bytes);
    }
}
