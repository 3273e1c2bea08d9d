using System.Buffers.Binary;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;

namespace Replicator.Protocol.Framing;

/// <summary>
/// The fixed 32-byte header at the start of a <see cref="FrameType.Mirror"/> body; the payload
/// (for a write, exactly <c>length</c> bytes; otherwise none) follows it, so it can be read
/// straight into a pooled buffer. Little-endian.
/// <code>
/// offset size field
///  0     8    epoch
///  8     8    sequence number
/// 16     8    offset in bytes
/// 24     4    length in bytes
/// 28     1    operation (BlockOp: 1 write, 2 write-zeroes, 3 trim, 4 flush, 5 skipped)
/// 29     1    flags: bit 0 FUA; other bits must be 0
/// 30     2    reserved, must be 0
/// </code>
/// </summary>
public static class MirrorHeader
{
    public const int Size = 32;

    public static void Write(in MirrorRecord record, Span<byte> destination)
    {
        BinaryPrimitives.WriteInt64LittleEndian(destination, record.Epoch);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], record.Sequence);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], record.Request.Offset);
        BinaryPrimitives.WriteInt32LittleEndian(destination[24..], record.Request.Length);
        destination[28] = (byte)record.Request.Op;
        destination[29] = record.Request.Fua ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[30..], 0);
    }

    /// <summary>Parses the header; returns null and a reason when it is malformed.</summary>
    public static string? TryRead(ReadOnlySpan<byte> source, out long epoch, out long sequence, out BlockRequest request)
    {
        epoch = BinaryPrimitives.ReadInt64LittleEndian(source);
        sequence = BinaryPrimitives.ReadInt64LittleEndian(source[8..]);
        long offset = BinaryPrimitives.ReadInt64LittleEndian(source[16..]);
        int length = BinaryPrimitives.ReadInt32LittleEndian(source[24..]);
        var op = (BlockOp)source[28];
        byte flags = source[29];
        request = new BlockRequest(op, offset, length, (flags & 1) != 0);
        if (op is < BlockOp.Write or > BlockOp.Verify)
        {
            return $"unknown operation {(byte)op}";
        }

        if ((flags & ~1) != 0 || BinaryPrimitives.ReadUInt16LittleEndian(source[30..]) != 0)
        {
            return "reserved bits are set";
        }

        return epoch <= 0 || sequence <= 0 ? $"epoch {epoch} / sequence {sequence} must be positive" : null;
    }
}
