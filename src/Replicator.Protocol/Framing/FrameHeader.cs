using System.Buffers.Binary;

namespace Replicator.Protocol.Framing;

/// <summary>
/// The 16-byte header in front of every frame. All integers little-endian.
/// <code>
/// offset size field
///  0     2    magic 0x5052 ("RP" on the wire)
///  2     1    type (FrameType)
///  3     1    flags (bit 0: no checksum, the transport guards the frame; other bits reserved, 0)
///  4     4    body length in bytes (not counting this header)
///  8     4    link sequence: 0 for the first frame a side sends on a connection, +1 per frame
/// 12     4    CRC-32C (Castagnoli) over header bytes 0..11 followed by the body; 0 with flag bit 0
/// </code>
/// The link sequence catches a frame lost, repeated or reordered below us; the CRC catches damage
/// (on a TLS link, the transport's AEAD tag does: <see cref="FrameIntegrity.Transport"/>).
/// </summary>
public readonly record struct FrameHeader(FrameType Type, byte Flags, int BodyLength, uint LinkSequence, uint Checksum)
{
    public const int Size = 16;

    public const ushort Magic = 0x5052;

    /// <summary>The frame carries no checksum: it travels on a link whose transport (TLS) authenticates every byte.</summary>
    public const byte TransportIntegrityFlag = 0x01;

    /// <summary>Bytes 0..11: everything the checksum covers besides the body.</summary>
    public const int ChecksummedPrefix = 12;

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(destination, Magic);
        destination[2] = (byte)Type;
        destination[3] = Flags;
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], BodyLength);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], LinkSequence);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], Checksum);
    }

    /// <summary>Reads the fields without judging them; <see cref="FrameReader"/> does the checks.</summary>
    public static FrameHeader Read(ReadOnlySpan<byte> source, out ushort magic)
    {
        magic = BinaryPrimitives.ReadUInt16LittleEndian(source);
        return new FrameHeader(
            (FrameType)source[2],
            source[3],
            BinaryPrimitives.ReadInt32LittleEndian(source[4..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[8..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[12..]));
    }
}
