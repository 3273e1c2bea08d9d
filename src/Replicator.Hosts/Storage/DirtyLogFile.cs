using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using Replicator.Core.Storage;

namespace Replicator.Hosts.Storage;

/// <summary>
/// The primary's dirty log, <c>dirty-log.bin</c> in its state directory: two 4 KiB header slots
/// (the activity log's transactions, written in turn, so that a write torn by a crash leaves the
/// other intact) and then the bitmap, one bit per region in 512-byte sectors that each carry their
/// own checksum. A sector is written in one piece, so a torn write never spoils one; a sector or
/// header that does not verify is damage, and the log refuses to be used.
/// </summary>
/// <remarks>
/// Only <see cref="Primary.DirtyTracker"/> decides what is written and in which order; this class
/// encodes, writes and verifies. Every write of a running primary goes through one storage lane,
/// so two never race over a sector.
/// </remarks>
public sealed class DirtyLogFile : IDisposable
{
    public const string FileName = "dirty-log.bin";
    public const int SectorBytes = 512;
    public const int HeaderSlotBytes = 4096;
    public const int BitmapOffset = 2 * HeaderSlotBytes;

    /// <summary>Extents one header can name.</summary>
    public const int MaxActiveExtents = (HeaderSlotBytes - HeaderFixedBytes - sizeof(uint)) / sizeof(uint);

    private const ulong Magic = 0x474F_4C59_5452_4944; // "DIRTYLOG" read little-endian
    private const uint FormatVersion = 1;
    private const int HeaderFixedBytes = 72;
    private const uint InUseFlag = 1;

    private readonly IBlockDevice _device;
    private readonly Crc32 _crc = new(Crc32ParameterSet.Crc32C);
    private readonly byte[] _slot = new byte[HeaderSlotBytes];
    private readonly byte[] _sector = new byte[SectorBytes];

    private DirtyLogFile(IBlockDevice device, string path)
    {
        _device = device;
        Path = path;
    }

    /// <summary>The file's path, for messages.</summary>
    public string Path { get; }

    /// <summary>
    /// Opens the log, or returns null when there is none. <see cref="Load"/> then tells what it holds.
    /// </summary>
    public static DirtyLogFile? Open(IStorageDirectory directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        return directory.Exists(FileName) ? new DirtyLogFile(directory.Open(FileName), directory.Describe(FileName)) : null;
    }

    /// <summary>
    /// Creates (or empties) the log for <paramref name="geometry"/>, every bitmap sector clear and
    /// written, durable, its name too; no header yet, so until one is written the log is unwritten.
    /// </summary>
    public static DirtyLogFile Create(IStorageDirectory directory, DirtyLogGeometry geometry, ulong logId)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var file = new DirtyLogFile(directory.Create(FileName, BitmapOffset + ((long)geometry.SectorCount * SectorBytes)), directory.Describe(FileName));
        try
        {
            byte[] clear = new byte[DirtyLogGeometry.BitmapBytesPerSector];
            for (int sector = 0; sector < geometry.SectorCount; sector++)
            {
                file.WriteSector(logId, sector, clear);
            }

            file.Flush();
            directory.Sync();
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The newest intact header and the bitmap it goes with (<see cref="DirtyLogContents.Bitmap"/>:
    /// <see cref="DirtyLogGeometry.BitmapBytesPerSector"/> bytes per sector, one bit per region).
    /// Null header: no header was ever written (the log was being created). Throws
    /// <see cref="InvalidDataException"/>, naming the file, when neither header verifies though one
    /// was written, or a bitmap sector does not: damage, never taken for a torn write.
    /// </summary>
    public DirtyLogContents Load()
    {
        if (_device.Size == 0)
        {
            return new DirtyLogContents(null, []); // created, and cut short before it had its size
        }

        if (_device.Size < BitmapOffset)
        {
            throw Damaged(string.Create(CultureInfo.InvariantCulture, $"it is {_device.Size} bytes, shorter than its two headers"));
        }

        DirtyLogHeader? first = ReadSlot(0, out bool firstWritten);
        DirtyLogHeader? second = ReadSlot(1, out bool secondWritten);
        DirtyLogHeader? newest = first is null ? second : second is null || first.Transaction > second.Transaction ? first : second;
        if (newest is null)
        {
            if (firstWritten && secondWritten)
            {
                // Only one slot is ever being written: a crash can tear that one, never both.
                throw Damaged("neither of its two headers verifies");
            }

            return new DirtyLogContents(null, []);
        }

        DirtyLogGeometry geometry = newest.Geometry;
        if (geometry.Problem() is not null)
        {
            return new DirtyLogContents(newest, []); // of no shape this build keeps: not this image's log
        }

        if (BitmapOffset + ((long)geometry.SectorCount * SectorBytes) > _device.Size)
        {
            // It was created at its whole size: a shorter file lost its end.
            throw Damaged(string.Create(CultureInfo.InvariantCulture, $"it is {_device.Size} bytes, too short for the bitmap its header describes"));
        }

        byte[] bitmap = new byte[(long)geometry.SectorCount * DirtyLogGeometry.BitmapBytesPerSector];
        for (int sector = 0; sector < geometry.SectorCount; sector++)
        {
            _device.Read(BitmapOffset + ((long)sector * SectorBytes), _sector);
            Span<byte> bits = _sector.AsSpan(0, DirtyLogGeometry.BitmapBytesPerSector);
            uint stored = BinaryPrimitives.ReadUInt32LittleEndian(_sector.AsSpan(DirtyLogGeometry.BitmapBytesPerSector));
            if (stored != SectorChecksum(newest.LogId, sector, bits))
            {
                throw Damaged(string.Create(CultureInfo.InvariantCulture, $"bitmap sector {sector} (bytes {BitmapOffset + ((long)sector * SectorBytes)}..) does not verify"));
            }

            bits.CopyTo(bitmap.AsSpan(sector * DirtyLogGeometry.BitmapBytesPerSector));
        }

        return new DirtyLogContents(newest, bitmap);
    }

    /// <summary>Writes the header into the slot its transaction number picks (not yet durable).</summary>
    public void WriteHeader(DirtyLogHeader header)
    {
        ArgumentNullException.ThrowIfNull(header);
        if (header.ActiveExtents.Count > MaxActiveExtents)
        {
            throw new ArgumentOutOfRangeException(nameof(header), header.ActiveExtents.Count, $"a header names at most {MaxActiveExtents} extents");
        }

        Array.Clear(_slot);
        Span<byte> s = _slot;
        BinaryPrimitives.WriteUInt64LittleEndian(s, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(s[8..], FormatVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(s[12..], header.InUse ? InUseFlag : 0);
        BinaryPrimitives.WriteInt64LittleEndian(s[16..], header.Transaction);
        BinaryPrimitives.WriteUInt64LittleEndian(s[24..], header.LogId);
        BinaryPrimitives.WriteInt64LittleEndian(s[32..], header.Geometry.DiskBytes);
        BinaryPrimitives.WriteInt32LittleEndian(s[40..], header.Geometry.RegionBytes);
        BinaryPrimitives.WriteInt32LittleEndian(s[44..], header.Geometry.ExtentBytes);
        BinaryPrimitives.WriteInt64LittleEndian(s[48..], header.AcknowledgedEpoch);
        BinaryPrimitives.WriteUInt64LittleEndian(s[56..], header.AcknowledgedGeneration);
        BinaryPrimitives.WriteInt32LittleEndian(s[64..], header.ActiveExtents.Count);
        for (int i = 0; i < header.ActiveExtents.Count; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(s[(HeaderFixedBytes + (i * sizeof(uint)))..], checked((uint)header.ActiveExtents[i]));
        }

        BinaryPrimitives.WriteUInt32LittleEndian(s[(HeaderSlotBytes - sizeof(uint))..], Checksum(s[..(HeaderSlotBytes - sizeof(uint))]));
        _device.Write(SlotOffset(header.Transaction), _slot);
    }

    /// <summary>Writes one bitmap sector (<see cref="DirtyLogGeometry.BitmapBytesPerSector"/> bytes of bits) with its checksum (not yet durable).</summary>
    public void WriteSector(ulong logId, int sector, ReadOnlySpan<byte> bits)
    {
        if (bits.Length != DirtyLogGeometry.BitmapBytesPerSector)
        {
            throw new ArgumentException($"a bitmap sector holds {DirtyLogGeometry.BitmapBytesPerSector} bytes of bits", nameof(bits));
        }

        bits.CopyTo(_sector);
        BinaryPrimitives.WriteUInt32LittleEndian(_sector.AsSpan(DirtyLogGeometry.BitmapBytesPerSector), SectorChecksum(logId, sector, bits));
        _device.Write(BitmapOffset + ((long)sector * SectorBytes), _sector);
    }

    /// <summary>Makes every write so far durable (fdatasync).</summary>
    public void Flush() => _device.Flush();

    public void Dispose() => _device.Dispose();

    private static long SlotOffset(long transaction) => (transaction & 1) * HeaderSlotBytes;

    private DirtyLogHeader? ReadSlot(int slot, out bool written)
    {
        _device.Read((long)slot * HeaderSlotBytes, _slot);
        ReadOnlySpan<byte> s = _slot;
        written = s.IndexOfAnyExcept((byte)0) >= 0;
        if (!written
            || BinaryPrimitives.ReadUInt64LittleEndian(s) != Magic
            || BinaryPrimitives.ReadUInt32LittleEndian(s[(HeaderSlotBytes - sizeof(uint))..]) != Checksum(s[..(HeaderSlotBytes - sizeof(uint))]))
        {
            return null;
        }

        uint version = BinaryPrimitives.ReadUInt32LittleEndian(s[8..]);
        if (version != FormatVersion)
        {
            throw Damaged(string.Create(CultureInfo.InvariantCulture, $"its header has format {version}; this build reads format {FormatVersion}"));
        }

        int count = BinaryPrimitives.ReadInt32LittleEndian(s[64..]);
        long transaction = BinaryPrimitives.ReadInt64LittleEndian(s[16..]);
        if (count < 0 || count > MaxActiveExtents || SlotOffset(transaction) != (long)slot * HeaderSlotBytes)
        {
            throw Damaged(string.Create(CultureInfo.InvariantCulture, $"header slot {slot} verifies but is inconsistent (transaction {transaction}, {count} extents)"));
        }

        long[] extents = new long[count];
        for (int i = 0; i < count; i++)
        {
            extents[i] = BinaryPrimitives.ReadUInt32LittleEndian(s[(HeaderFixedBytes + (i * sizeof(uint)))..]);
        }

        return new DirtyLogHeader(
            transaction,
            BinaryPrimitives.ReadUInt64LittleEndian(s[24..]),
            new DirtyLogGeometry(BinaryPrimitives.ReadInt64LittleEndian(s[32..]), BinaryPrimitives.ReadInt32LittleEndian(s[40..]), BinaryPrimitives.ReadInt32LittleEndian(s[44..])),
            (BinaryPrimitives.ReadUInt32LittleEndian(s[12..]) & InUseFlag) != 0,
            BinaryPrimitives.ReadInt64LittleEndian(s[48..]),
            BinaryPrimitives.ReadUInt64LittleEndian(s[56..]),
            extents);
    }

    private InvalidDataException Damaged(string what) =>
        new($"dirty log {Path} is damaged: {what}; nothing was changed. Without it the primary cannot say which regions its secondary lacks: move the file away to have the whole image copied to the secondary instead");

    private uint Checksum(ReadOnlySpan<byte> bytes)
    {
        _crc.Reset();
        _crc.Append(bytes);
        return _crc.GetCurrentHashAsUInt32();
    }

    // The log id and the sector's place are mixed in: a sector of another log, or from elsewhere in this one, never verifies.
    private uint SectorChecksum(ulong logId, int sector, ReadOnlySpan<byte> bits)
    {
        Span<byte> prefix = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, logId);
        BinaryPrimitives.WriteInt32LittleEndian(prefix[8..], sector);
        _crc.Reset();
        _crc.Append(prefix);
        _crc.Append(bits);
        return _crc.GetCurrentHashAsUInt32();
    }
}

/// <summary>What a dirty log holds: its newest intact header (null: never written) and its bitmap.</summary>
public sealed record DirtyLogContents(DirtyLogHeader? Header, byte[] Bitmap)
{
    /// <summary>
    /// Why this log must not be believed — never completed, not the log the state record names
    /// (<paramref name="trustedLogId"/>), or kept for another image shape than <paramref name="expected"/>
    /// (any shape of <paramref name="expectedDiskBytes"/> when null) — or null when it may be.
    /// </summary>
    public string? WhyNotTrusted(ulong trustedLogId, DirtyLogGeometry? expected, long expectedDiskBytes) => Header switch
    {
        null => "the dirty log was never completed (its creation was cut short)",
        { LogId: var id } when id != trustedLogId || trustedLogId == 0 => "the dirty log is not the one the state record names (a crash while it was replaced, or a log this node stopped keeping)",
        { Geometry: var g } when (expected is { } shape && g != shape) || g.DiskBytes != expectedDiskBytes || g.Problem() is not null
            => $"the dirty log was kept for another image shape ({g.DiskBytes} bytes, {g.RegionBytes}-byte regions, {g.ExtentBytes}-byte extents)",
        _ => null,
    };

    /// <summary>
    /// Every region the log says may differ from its secondary's checkpoint, in increasing order:
    /// the bitmap's, and — when the primary did not stop cleanly — every region of the extents that
    /// were hot. Only for a trusted log.
    /// </summary>
    public IEnumerable<long> RegionsThatMayDiffer()
    {
        DirtyLogHeader header = Header ?? throw new InvalidOperationException("a log that was never completed names no regions");
        DirtyLogGeometry geometry = header.Geometry;
        var hot = new HashSet<long>(header.InUse ? header.ActiveExtents : []);
        for (long region = 0; region < geometry.RegionCount; region++)
        {
            if ((Bitmap[region >> 3] & (1 << (int)(region & 7))) != 0 || hot.Contains(region / geometry.RegionsPerExtent))
            {
                yield return region;
            }
        }
    }
}
