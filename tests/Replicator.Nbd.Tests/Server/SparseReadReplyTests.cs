using System.Buffers.Binary;
using CsCheck;
using Replicator.Nbd.Protocol;
using Replicator.Nbd.Server;
using Replicator.Nbd.Tests.Support;

namespace Replicator.Nbd.Tests.Server;

/// <summary>
/// The in-place layout of a structured read reply: whatever the read's offset, length and mix of
/// zero and data sectors, the chunks rebuild the data exactly, cover it once in order, end with the
/// one DONE chunk, turn every aligned 4 KiB block of zeroes (and only those) into holes, and with DF
/// send one data chunk.
/// </summary>
public class SparseReadReplyTests
{
    private const int Sector = 512;
    private const int Cases = 2000;
    private const ulong Handle = 0xfeedfacecafebeef;

    [Fact]
    public void Any_read_is_rebuilt_exactly_from_its_chunks()
    {
        // Sectors are zero more often than not, so zero blocks (and runs of them) are common.
        Gen<(int OffsetSectors, bool[] Zero, bool DontFragment, int Seed)> reads = Gen.Select(
            Gen.Int[0, 16],
            Gen.Bool.Array[1, 80],
            Gen.Int[0, 9].Select(d => d == 0),
            Gen.Int);
        var pcg = new PCG(7, 20261202);
        for (int i = 0; i < Cases; i++)
        {
            ulong state = pcg.State;
            (int offsetSectors, bool[] zero, bool dontFragment, int seed) = reads.Generate(pcg, null, out _);
            string? failure = Check(offsetSectors * (long)Sector, zero, dontFragment, seed);
            Assert.True(failure is null, $"case {i} (CsCheck seed {pcg.ToString(state)}): {failure}");
        }
    }

    [Fact]
    public void A_read_without_zero_blocks_moves_nothing_and_is_one_data_chunk()
    {
        byte[] buffer = new byte[NbdStructuredReply.DataChunkPrefix + 8192];
        buffer.AsSpan(NbdStructuredReply.DataChunkPrefix).Fill(0x5a);
        buffer[NbdStructuredReply.DataChunkPrefix + 4096 + 4095] = 0; // a zero byte, but no zero block

        int length = SparseReadReply.Lay(buffer, Handle, 1 << 20, 8192, allowHoles: true);

        Assert.Equal(NbdStructuredReply.DataChunkPrefix + 8192, length);
        Assert.Equal(Hex.Golden("668e33ef 0001 0001 feedfacecafebeef 00002008 0000000000100000"), Hex.Of(buffer.AsSpan(0, NbdStructuredReply.DataChunkPrefix).ToArray()));
    }

    [Fact]
    public void A_read_of_only_zeroes_is_one_hole_chunk()
    {
        byte[] buffer = new byte[NbdStructuredReply.DataChunkPrefix + (3 * 4096)];

        int length = SparseReadReply.Lay(buffer, Handle, 4096, 3 * 4096, allowHoles: true);

        Assert.Equal(Hex.Golden("668e33ef 0001 0002 feedfacecafebeef 0000000c 0000000000001000 00003000"), Hex.Of(buffer.AsSpan(0, length).ToArray()));
    }

    private static string? Check(long offset, bool[] zeroSectors, bool dontFragment, int seed)
    {
        int length = zeroSectors.Length * Sector;
        byte[] data = new byte[length];
        var random = new Random(seed);
        for (int s = 0; s < zeroSectors.Length; s++)
        {
            if (!zeroSectors[s])
            {
                random.NextBytes(data.AsSpan(s * Sector, Sector));
                data[(s * Sector) + random.Next(Sector)] |= 1; // never all zero by chance
            }
        }

        byte[] buffer = new byte[NbdStructuredReply.DataChunkPrefix + length];
        data.CopyTo(buffer, NbdStructuredReply.DataChunkPrefix);
        int replyLength = SparseReadReply.Lay(buffer, Handle, offset, length, allowHoles: !dontFragment);

        byte[] rebuilt = new byte[length];
        bool[] covered = new bool[length / Sector];
        bool[] inHole = new bool[length / Sector];
        var kinds = new List<NbdReplyChunkType>();
        int at = 0;
        long expectedOffset = offset;
        while (at < replyLength)
        {
            ReadOnlySpan<byte> header = buffer.AsSpan(at, NbdStructuredReply.HeaderSize);
            var type = (NbdReplyChunkType)BinaryPrimitives.ReadUInt16BigEndian(header[6..]);
            int payload = (int)BinaryPrimitives.ReadUInt32BigEndian(header[16..]);
            bool done = BinaryPrimitives.ReadUInt16BigEndian(header[4..]) == NbdStructuredReply.FlagDone;
            long chunkOffset = (long)BinaryPrimitives.ReadUInt64BigEndian(buffer.AsSpan(at + NbdStructuredReply.HeaderSize));
            if (BinaryPrimitives.ReadUInt32BigEndian(header) != NbdMagic.StructuredReply || BinaryPrimitives.ReadUInt64BigEndian(header[8..]) != Handle)
            {
                return $"chunk at {at}: bad magic or handle";
            }

            if (chunkOffset != expectedOffset)
            {
                return $"chunk at {at} starts at {chunkOffset}, expected {expectedOffset} (chunks in order, no gaps)";
            }

            int bytes = type == NbdReplyChunkType.OffsetHole ? (int)BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(at + NbdStructuredReply.HeaderSize + 8)) : payload - 8;
            int relative = (int)(chunkOffset - offset);
            if (type == NbdReplyChunkType.OffsetData)
            {
                buffer.AsSpan(at + NbdStructuredReply.DataChunkPrefix, bytes).CopyTo(rebuilt.AsSpan(relative));
            }
            else if (type != NbdReplyChunkType.OffsetHole || payload != 12 || chunkOffset % 4096 != 0 || bytes % 4096 != 0)
            {
                return $"chunk at {at}: type {type}, payload {payload}, {bytes} bytes at {chunkOffset}";
            }

            if (kinds.Count > 0 && kinds[^1] == type)
            {
                return $"two {type} chunks in a row: runs are not maximal";
            }

            covered.AsSpan(relative / Sector, bytes / Sector).Fill(true);
            inHole.AsSpan(relative / Sector, bytes / Sector).Fill(type == NbdReplyChunkType.OffsetHole);
            kinds.Add(type);
            expectedOffset += bytes;
            at += type == NbdReplyChunkType.OffsetHole ? NbdStructuredReply.HoleChunkSize : NbdStructuredReply.DataChunkPrefix + bytes;
            if (done != (at == replyLength))
            {
                return $"DONE on the chunk ending at {at} of {replyLength}";
            }
        }

        if (expectedOffset != offset + length || covered.Contains(false))
        {
            return $"chunks cover up to {expectedOffset}, the read ends at {offset + length}";
        }

        if (!rebuilt.AsSpan().SequenceEqual(data))
        {
            return "the chunks rebuild other bytes than were read";
        }

        // Without DF, a sector is in a hole exactly when its aligned 4 KiB block lies inside the read and is all zero.
        for (int s = 0; s < zeroSectors.Length; s++)
        {
            int blockStart = s - (int)((offset / Sector) + s) % 8;
            bool wholeZeroBlock = blockStart >= 0 && blockStart + 8 <= zeroSectors.Length && zeroSectors.AsSpan(blockStart, 8).IndexOf(false) < 0;
            if (inHole[s] != (wholeZeroBlock && !dontFragment))
            {
                return $"sector {s} in a hole: {inHole[s]}; in a whole aligned zero block: {wholeZeroBlock}; DF {dontFragment}";
            }
        }

        if (dontFragment && kinds.Count != 1)
        {
            return $"{kinds.Count} chunks despite DF";
        }

        return null;
    }
}
