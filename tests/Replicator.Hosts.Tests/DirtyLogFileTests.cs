using System.Buffers.Binary;
using Replicator.Core.Storage;
using Replicator.Hosts.Storage;
using Replicator.Hosts.Tests.Support;
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
    [InlineData(DirtyLogFile.BitmapOffset - 1L, "shorter than its two headers")]
    [InlineData(DirtyLogFile.BitmapOffset + 0L, "too short for the bitmap its header describes")]
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

    [Fact]
    public void A_header_and_a_bitmap_sector_are_laid_out_as_documented_with_checksums_computed_independently()
    {
        using (DirtyLogFile file = DirtyLogFile.Create(_directory, Geometry, logId: 0x1122334455667788))
        {
            byte[] bits = new byte[DirtyLogGeometry.BitmapBytesPerSector];
            bits[0] = 0x81;
            file.WriteSector(0x1122334455667788, 1, bits);
            // A longer one in the same slot before it: nothing of it may be left past the new one's extents.
            file.WriteHeader(new DirtyLogHeader(1, 0x1122334455667788, Geometry, InUse: true, AcknowledgedEpoch: 40, AcknowledgedGeneration: 0xABCDEF, [2, 7, 9, 11]));
            file.WriteHeader(new DirtyLogHeader(3, 0x1122334455667788, Geometry, InUse: true, AcknowledgedEpoch: 41, AcknowledgedGeneration: 0xABCDEF, [2, 7]));
        }

        byte[] log = _directory.Peek(DirtyLogFile.FileName)!.Contents.ToArray();
        ReadOnlySpan<byte> slot = log.AsSpan(DirtyLogFile.HeaderSlotBytes, DirtyLogFile.HeaderSlotBytes); // odd transactions: the second slot
        Assert.Equal("DIRTYLOG"u8.ToArray(), slot[..8].ToArray());
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(slot[8..]));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(slot[12..]));
        Assert.Equal(3L, BinaryPrimitives.ReadInt64LittleEndian(slot[16..]));
        Assert.Equal(0x1122334455667788UL, BinaryPrimitives.ReadUInt64LittleEndian(slot[24..]));
        Assert.Equal((Geometry.DiskBytes, Geometry.RegionBytes, Geometry.ExtentBytes), (BinaryPrimitives.ReadInt64LittleEndian(slot[32..]), BinaryPrimitives.ReadInt32LittleEndian(slot[40..]), BinaryPrimitives.ReadInt32LittleEndian(slot[44..])));
        Assert.Equal((41L, 0xABCDEFUL), (BinaryPrimitives.ReadInt64LittleEndian(slot[48..]), BinaryPrimitives.ReadUInt64LittleEndian(slot[56..])));
        Assert.Equal((2, 2u, 7u), (BinaryPrimitives.ReadInt32LittleEndian(slot[64..]), BinaryPrimitives.ReadUInt32LittleEndian(slot[72..]), BinaryPrimitives.ReadUInt32LittleEndian(slot[76..])));
        Assert.True(slot[80..^4].IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(TextbookCrc32C.Compute(slot[..^4]), BinaryPrimitives.ReadUInt32LittleEndian(slot[^4..]));
        Assert.True(log.AsSpan(0, DirtyLogFile.HeaderSlotBytes).IndexOfAnyExcept((byte)0) < 0); // the other slot never written

        ReadOnlySpan<byte> sector = log.AsSpan(DirtyLogFile.BitmapOffset + DirtyLogFile.SectorBytes, DirtyLogFile.SectorBytes);
        byte[] prefix = new byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, 0x1122334455667788);
        BinaryPrimitives.WriteInt32LittleEndian(prefix.AsSpan(8), 1);
        Assert.Equal(0x81, sector[0]);
        Assert.Equal(TextbookCrc32C.Compute([.. prefix, .. sector[..^4]]), BinaryPrimitives.ReadUInt32LittleEndian(sector[^4..]));
    }

    [Fact]
    public void Every_header_field_reads_back_and_the_higher_transaction_wins_in_either_slot()
    {
        using DirtyLogFile file = DirtyLogFile.Create(_directory, Geometry, logId: 7);
        var older = new DirtyLogHeader(2, 7, Geometry, InUse: true, AcknowledgedEpoch: 10, AcknowledgedGeneration: 5, [1]);
        var newer = new DirtyLogHeader(3, 7, Geometry, InUse: false, AcknowledgedEpoch: 11, AcknowledgedGeneration: 6, []);
        file.WriteHeader(older);
        file.WriteHeader(newer);

        DirtyLogHeader read = file.Load().Header!;
        Assert.Equal((newer.Transaction, newer.LogId, newer.Geometry, newer.InUse, newer.AcknowledgedEpoch, newer.AcknowledgedGeneration), (read.Transaction, read.LogId, read.Geometry, read.InUse, read.AcknowledgedEpoch, read.AcknowledgedGeneration));
        Assert.Empty(read.ActiveExtents);

        file.WriteHeader(older with { Transaction = 4 }); // slot 0 again, now the newer one
        Assert.Equal(4, file.Load().Header!.Transaction);
    }

    [Fact]
    public void A_single_header_torn_while_it_was_first_written_reads_as_a_log_never_completed()
    {
        using (DirtyLogFile file = DirtyLogFile.Create(_directory, Geometry, logId: 7))
        {
            file.WriteHeader(Header(1, active: []));
        }

        Spoil(offset: DirtyLogFile.HeaderSlotBytes + 100, length: 8);
        using DirtyLogFile reopened = DirtyLogFile.Open(_directory)!;

        DirtyLogContents contents = reopened.Load();
        Assert.Null(contents.Header);
        Assert.Empty(contents.Bitmap);
    }

    [Fact]
    public void A_slot_whose_checksum_holds_but_that_is_no_dirty_log_header_is_not_read_as_one()
    {
        using (DirtyLogFile file = DirtyLogFile.Create(_directory, Geometry, logId: 7))
        {
            file.WriteHeader(Header(1, active: []));
        }

        RewriteSlot(1, slot => "NOTALOG!"u8.CopyTo(slot));
        using DirtyLogFile reopened = DirtyLogFile.Open(_directory)!;

        Assert.Null(reopened.Load().Header);
    }

    [Fact]
    public void A_header_of_another_format_is_damage_not_a_torn_write()
    {
        using (DirtyLogFile file = DirtyLogFile.Create(_directory, Geometry, logId: 7))
        {
            file.WriteHeader(Header(1, active: []));
        }

        RewriteSlot(1, slot => BinaryPrimitives.WriteUInt32LittleEndian(slot[8..], 2));
        using DirtyLogFile reopened = DirtyLogFile.Open(_directory)!;

        var damage = Assert.Throws<InvalidDataException>(() => reopened.Load());
        Assert.Contains("state/dirty-log.bin is damaged: its header has format 2; this build reads format 1; nothing was changed", damage.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2L, 0)] // an even transaction in the odd slot
    [InlineData(1L, -1)]
    [InlineData(1L, DirtyLogFile.MaxActiveExtents + 1)]
    public void A_header_that_verifies_but_contradicts_itself_is_damage(long transaction, int count)
    {
        using (DirtyLogFile file = DirtyLogFile.Create(_directory, Geometry, logId: 7))
        {
            file.WriteHeader(Header(1, active: []));
        }

        RewriteSlot(1, slot =>
        {
            BinaryPrimitives.WriteInt64LittleEndian(slot[16..], transaction);
            BinaryPrimitives.WriteInt32LittleEndian(slot[64..], count);
        });
        using DirtyLogFile reopened = DirtyLogFile.Open(_directory)!;

        var damage = Assert.Throws<InvalidDataException>(() => reopened.Load());
        Assert.Contains($"header slot 1 verifies but is inconsistent (transaction {transaction}, {count} extents)", damage.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_header_names_at_most_the_extents_its_slot_holds()
    {
        using DirtyLogFile file = DirtyLogFile.Create(_directory, Geometry, logId: 7);
        long[] most = Enumerable.Range(0, DirtyLogFile.MaxActiveExtents).Select(e => (long)e).ToArray();

        file.WriteHeader(Header(1, most));
        var tooMany = Assert.Throws<ArgumentOutOfRangeException>(() => file.WriteHeader(Header(2, [.. most, 1])));
        // An extent number past what a header holds is refused, never cut short into another extent's.
        Assert.Throws<OverflowException>(() => file.WriteHeader(Header(2, [(long)uint.MaxValue + 3])));
        var shortSector = Assert.Throws<ArgumentException>(() => file.WriteSector(7, 0, new byte[DirtyLogGeometry.BitmapBytesPerSector - 1]));
        Assert.Throws<ArgumentNullException>(() => file.WriteHeader(null!));

        Assert.Contains($"a header names at most {DirtyLogFile.MaxActiveExtents} extents", tooMany.Message, StringComparison.Ordinal);
        Assert.Contains($"a bitmap sector holds {DirtyLogGeometry.BitmapBytesPerSector} bytes of bits", shortSector.Message, StringComparison.Ordinal);
        Assert.Equal(most, file.Load().Header!.ActiveExtents);
    }

    [Fact]
    public void A_log_kept_for_a_shape_this_build_cannot_track_reads_with_no_bitmap()
    {
        var odd = new DirtyLogGeometry(Geometry.DiskBytes, RegionBytes: 1000, Geometry.ExtentBytes);
        using DirtyLogFile file = DirtyLogFile.Create(_directory, Geometry, logId: 7);
        file.WriteHeader(Header(1, active: []) with { Geometry = odd });

        DirtyLogContents contents = file.Load();

        Assert.Equal(odd, contents.Header!.Geometry);
        Assert.Empty(contents.Bitmap);
        Assert.StartsWith("the dirty log was kept for another image shape (67108864 bytes, 1000-byte regions", contents.WhyNotTrusted(7, null, Geometry.DiskBytes), StringComparison.Ordinal);
    }

    [Fact]
    public void A_new_log_is_whole_and_durable_name_and_all_before_it_is_used()
    {
        for (int seed = 0; seed < 4; seed++)
        {
            var directory = new MemoryStorageDirectory("state");
            using (DirtyLogFile.Create(directory, Geometry, logId: 7))
            {
            }

            directory.PowerCut(new Random(seed));
            using DirtyLogFile reopened = DirtyLogFile.Open(directory)!;
            using (IBlockDevice device = directory.Open(DirtyLogFile.FileName))
            {
                Assert.Equal(DirtyLogFile.BitmapOffset + ((long)Geometry.SectorCount * DirtyLogFile.SectorBytes), device.Size);
            }

            reopened.WriteHeader(Header(1, active: []));
            Assert.Equal(Geometry.SectorCount * DirtyLogGeometry.BitmapBytesPerSector, reopened.Load().Bitmap.Length);
        }
    }

    [Fact]
    public void A_log_for_a_large_image_is_created_at_its_whole_size()
    {
        var large = new DirtyLogGeometry(DiskBytes: 4L << 30, RegionBytes: 4096, ExtentBytes: 1 << 20);
        using DirtyLogFile file = DirtyLogFile.Create(_directory, large, logId: 7);
        file.WriteHeader(Header(1, active: []) with { Geometry = large });

        Assert.Equal(DirtyLogFile.BitmapOffset + ((long)large.SectorCount * DirtyLogFile.SectorBytes), _directory.Peek(DirtyLogFile.FileName)!.Size);
        Assert.Equal((long)large.SectorCount * DirtyLogGeometry.BitmapBytesPerSector, file.Load().Bitmap.Length);
    }

    [Fact]
    public void A_log_that_cannot_be_created_is_closed_and_the_error_told()
    {
        var faults = new FailingWrites { FailFrom = DirtyLogFile.FileName };
        var directory = new MemoryStorageDirectory("state", faults);

        Assert.Throws<IOException>(() => DirtyLogFile.Create(directory, Geometry, logId: 7));

        Assert.Equal(0, directory.OpenDevices);
        Assert.Null(DirtyLogFile.Open(new MemoryStorageDirectory("empty")));
        Assert.Throws<ArgumentNullException>(() => DirtyLogFile.Open(null!));
        Assert.Throws<ArgumentNullException>(() => DirtyLogFile.Create(null!, Geometry, logId: 7));
    }

    [Fact]
    public void A_bitmap_sector_moved_to_another_place_in_the_log_does_not_verify()
    {
        using (DirtyLogFile file = DirtyLogFile.Create(_directory, Geometry, logId: 7))
        {
            file.WriteHeader(Header(1, active: []));
        }

        MemoryDisk disk = _directory.Peek(DirtyLogFile.FileName)!;
        byte[] first = disk.Contents.Slice(DirtyLogFile.BitmapOffset, DirtyLogFile.SectorBytes).ToArray();
        disk.Write(DirtyLogFile.BitmapOffset + DirtyLogFile.SectorBytes, first, fua: true);
        using DirtyLogFile reopened = DirtyLogFile.Open(_directory)!;

        Assert.Contains("bitmap sector 1 (bytes 8704..) does not verify", Assert.Throws<InvalidDataException>(() => reopened.Load()).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(7UL, 7UL, true, null)]
    [InlineData(8UL, 7UL, true, "not the one the state record names")]
    [InlineData(0UL, 0UL, true, "not the one the state record names")] // a state record that names no log trusts none
    [InlineData(7UL, 7UL, false, "another image shape")]
    public void A_log_is_trusted_only_when_it_is_the_one_the_state_record_names_for_this_image(ulong logId, ulong trusted, bool sameShape, string? why)
    {
        var contents = new DirtyLogContents(Header(1, active: []) with { LogId = logId }, []);
        DirtyLogGeometry expected = sameShape ? Geometry : Geometry with { RegionBytes = 8192 };

        string? answer = contents.WhyNotTrusted(trusted, expected, Geometry.DiskBytes);

        if (why is null)
        {
            Assert.Null(answer);
            Assert.Null(contents.WhyNotTrusted(trusted, null, Geometry.DiskBytes)); // any shape of this image's size
            Assert.Contains("another image shape", contents.WhyNotTrusted(trusted, null, Geometry.DiskBytes + 4096), StringComparison.Ordinal);
        }
        else
        {
            Assert.Contains(why, answer, StringComparison.Ordinal);
        }

        Assert.Contains("never completed", new DirtyLogContents(null, []).WhyNotTrusted(trusted, expected, Geometry.DiskBytes), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_regions_that_may_differ_are_the_bitmap_s_and_while_in_use_every_region_of_the_hot_extents(bool inUse)
    {
        var small = new DirtyLogGeometry(DiskBytes: 64 * 4096, RegionBytes: 4096, ExtentBytes: 4 * 4096);
        byte[] bitmap = new byte[DirtyLogGeometry.BitmapBytesPerSector];
        bitmap[0] = 0b0000_0010; // region 1
        bitmap[7] = 0b1000_0000; // region 63, the last
        bitmap[8] = 0b0000_0001; // past the image's end: names nothing
        var contents = new DirtyLogContents(new DirtyLogHeader(1, 7, small, inUse, 1, 1, [3]), bitmap);

        long[] regions = contents.RegionsThatMayDiffer().ToArray();

        Assert.Equal(inUse ? [1L, 12, 13, 14, 15, 63] : [1L, 63], regions);
        var never = Assert.Throws<InvalidOperationException>(() => new DirtyLogContents(null, []).RegionsThatMayDiffer().ToArray());
        Assert.Equal("a log that was never completed names no regions", never.Message);
    }

    private void RewriteSlot(int slot, SlotEdit edit)
    {
        MemoryDisk disk = _directory.Peek(DirtyLogFile.FileName)!;
        byte[] bytes = disk.Contents.Slice(slot * DirtyLogFile.HeaderSlotBytes, DirtyLogFile.HeaderSlotBytes).ToArray();
        edit(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(DirtyLogFile.HeaderSlotBytes - 4), TextbookCrc32C.Compute(bytes.AsSpan(0, DirtyLogFile.HeaderSlotBytes - 4)));
        disk.Write(slot * DirtyLogFile.HeaderSlotBytes, bytes, fua: true);
    }

    private delegate void SlotEdit(Span<byte> slot);

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
