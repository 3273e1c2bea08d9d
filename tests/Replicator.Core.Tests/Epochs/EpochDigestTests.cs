using System.IO.Hashing;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;

namespace Replicator.Core.Tests.Epochs;

/// <summary>
/// The digest that closes an epoch, against its documented layout (docs/protocol.md): a 32-byte
/// little-endian header — epoch, sequence, offset, length (4 bytes), op, FUA — hashed with XxHash3,
/// and for a write (or verify) the payload hashed with that hash as its seed; the epoch's digest is
/// the sum of its records' hashes mod 2^64. Both sides compute it with the same function, so a
/// weakened digest still agrees with itself: these tests hold it to the layout, field by field.
/// </summary>
public sealed class EpochDigestTests
{
    private static readonly byte[] Payload = Enumerable.Range(0, 4096).Select(i => (byte)(i * 7)).ToArray();

    public static TheoryData<BlockOp, bool> Ops => new()
    {
        { BlockOp.Write, false },
        { BlockOp.Write, true },
        { BlockOp.WriteZeroes, false },
        { BlockOp.WriteZeroes, true },
        { BlockOp.Trim, false },
        { BlockOp.Flush, false },
        { BlockOp.Skipped, false },
        { BlockOp.Verify, false },
    };

    [Theory]
    [MemberData(nameof(Ops))]
    public void A_records_hash_is_its_header_hashed_by_the_documented_layout_and_a_writes_payload_seeded_with_it(BlockOp op, bool fua)
    {
        MirrorRecord record = Record(op, fua, epoch: 0x0102_0304_0506_0708, sequence: 0x1112_1314_1516_1718, offset: 0x2122_2324_2526_2800);

        Assert.Equal(Expected(record), EpochDigest.RecordHash(record));
    }

    [Theory]
    [MemberData(nameof(Ops))]
    public void Every_header_field_is_bound_a_record_damaged_in_any_of_them_hashes_differently(BlockOp op, bool fua)
    {
        MirrorRecord record = Record(op, fua, epoch: 9, sequence: 41, offset: 1 << 20);
        ulong hash = EpochDigest.RecordHash(record);

        MirrorRecord[] damaged =
        [
            record with { Epoch = 10 },
            record with { Sequence = 42 },
            record with { Request = record.Request with { Offset = record.Request.Offset + 4096 } },
            record with { Request = record.Request with { Length = record.Request.Length + 512 } },
            record with { Request = record.Request with { Op = op == BlockOp.Trim ? BlockOp.WriteZeroes : BlockOp.Trim } },
            record with { Request = record.Request with { Fua = !fua } },
        ];
        foreach (MirrorRecord other in damaged)
        {
            Assert.NotEqual(hash, EpochDigest.RecordHash(other));
        }
    }

    [Fact]
    public void A_writes_payload_is_bound_byte_by_byte_and_an_op_without_payload_ignores_what_it_carries()
    {
        MirrorRecord write = Record(BlockOp.Write, fua: false, epoch: 3, sequence: 5, offset: 0);
        byte[] flipped = (byte[])Payload.Clone();
        flipped[4095] ^= 1;
        Assert.NotEqual(EpochDigest.RecordHash(write), EpochDigest.RecordHash(write with { Payload = flipped }));

        MirrorRecord zeroes = Record(BlockOp.WriteZeroes, fua: false, epoch: 3, sequence: 5, offset: 0);
        Assert.Equal(EpochDigest.RecordHash(zeroes), EpochDigest.RecordHash(zeroes with { Payload = flipped }));
    }

    [Fact]
    public void The_digest_is_the_sum_of_its_records_hashes_mod_two_to_the_64_in_any_order_and_reset_empties_it()
    {
        MirrorRecord[] records = Enumerable.Range(1, 40)
            .Select(i => Record(i % 3 == 0 ? BlockOp.Flush : BlockOp.Write, fua: i % 5 == 0, epoch: 7, sequence: i, offset: i * 4096L))
            .ToArray();
        ulong sum = 0;
        foreach (MirrorRecord r in records)
        {
            sum = unchecked(sum + Expected(r));
        }

        var forward = default(EpochDigest);
        var backward = default(EpochDigest);
        foreach (MirrorRecord r in records)
        {
            forward.Add(r);
        }

        foreach (MirrorRecord r in records.Reverse())
        {
            backward.Add(r);
        }

        Assert.Equal(sum, forward.Value);
        Assert.Equal(sum, backward.Value);

        forward.Reset();
        Assert.Equal(0UL, forward.Value);
        forward.Add(records[0]);
        Assert.Equal(Expected(records[0]), forward.Value);
    }

    /// <summary>The documented layout, written out here independently of the code under test.</summary>
    private static ulong Expected(in MirrorRecord record)
    {
        byte[] header = new byte[32];
        BitConverter.TryWriteBytes(header.AsSpan(0, 8), record.Epoch);
        BitConverter.TryWriteBytes(header.AsSpan(8, 8), record.Sequence);
        BitConverter.TryWriteBytes(header.AsSpan(16, 8), record.Request.Offset);
        BitConverter.TryWriteBytes(header.AsSpan(24, 4), record.Request.Length);
        header[28] = (byte)record.Request.Op;
        header[29] = (byte)(record.Request.Fua ? 1 : 0);
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("the layout is little-endian; this test writes it with the host's order");
        }

        ulong headerHash = XxHash3.HashToUInt64(header);
        return record.Request.Op is BlockOp.Write or BlockOp.Verify
            ? XxHash3.HashToUInt64(record.Payload.Span, (long)headerHash)
            : headerHash;
    }

    private static MirrorRecord Record(BlockOp op, bool fua, long epoch, long sequence, long offset)
    {
        int length = op == BlockOp.Flush ? 0 : 4096;
        var request = new BlockRequest(op, op == BlockOp.Flush ? 0 : offset, length, fua);
        return new MirrorRecord(epoch, sequence, request, op is BlockOp.Write or BlockOp.Verify ? Payload : ReadOnlyMemory<byte>.Empty);
    }
}
