using System.Buffers.Binary;
using Replicator.Protocol.Framing;

namespace Replicator.Fuzz.Tests.Infrastructure;

/// <summary>
/// The frame format as the protocol documents it (<see cref="FrameHeader"/>), re-read here without
/// the code under test: where a stream's fields are, how to re-seal mutated frames, and what a
/// reader must make of a stream.
/// </summary>
internal static class Frames
{
    public const ushort Magic = 0x5052;
    public const int HeaderSize = 16;

    /// <summary>Each frame's type, flags, body length, link sequence and checksum; and the mirror header's fields of mirror frames.</summary>
    public static IReadOnlyList<Field> StreamFields(byte[] input)
    {
        var fields = new List<Field>();
        int at = 0;
        while (at + HeaderSize <= input.Length)
        {
            fields.Add(new Field(at + 2, 1, false));
            fields.Add(new Field(at + 3, 1, false));
            fields.Add(new Field(at + 4, 4, false));
            fields.Add(new Field(at + 8, 4, false));
            fields.Add(new Field(at + 12, 4, false));
            int length = BinaryPrimitives.ReadInt32LittleEndian(input.AsSpan(at + 4));
            if (length < 0 || length > input.Length - at - HeaderSize)
            {
                break;
            }

            if (input[at + 2] == (byte)FrameType.Mirror && length >= MirrorHeader.Size)
            {
                fields.AddRange(MirrorFields(at + HeaderSize));
            }

            at += HeaderSize + length;
        }

        return fields;
    }

    /// <summary>The mirror header's epoch, sequence, offset, length, operation, flags and reserved bytes.</summary>
    public static IEnumerable<Field> MirrorFields(int at) =>
    [
        new(at, 8, false), new(at + 8, 8, false), new(at + 16, 8, false), new(at + 24, 4, false),
        new(at + 28, 1, false), new(at + 29, 1, false), new(at + 30, 2, false),
    ];

    /// <summary>
    /// Re-seals a mutated stream: walks its headers and rewrites each whole frame's checksum (and,
    /// when asked, its link sequence), so that mutations of types, lengths and bodies get past the
    /// checksum to the checks behind it.
    /// </summary>
    public static byte[] Reseal(byte[] input, bool renumber)
    {
        byte[] output = (byte[])input.Clone();
        int at = 0;
        uint sequence = 0;
        while (at + HeaderSize <= output.Length)
        {
            int length = BinaryPrimitives.ReadInt32LittleEndian(output.AsSpan(at + 4));
            if (length < 0 || length > output.Length - at - HeaderSize)
            {
                break;
            }

            if (renumber)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(output.AsSpan(at + 8), sequence);
            }

            uint crc = Crc32C.Compute(output.AsSpan(at, 12), output.AsSpan(at + HeaderSize, length));
            BinaryPrimitives.WriteUInt32LittleEndian(output.AsSpan(at + 12), crc);
            at += HeaderSize + length;
            sequence++;
        }

        return output;
    }

    /// <summary>What a correct reader makes of a whole stream: the frames it must return (offset and body length), then whether it must wait for more bytes or reject.</summary>
    public static (List<(int Offset, int Length)> Frames, bool Rejects) Expected(ReadOnlySpan<byte> input, int maxBodyLength)
    {
        var frames = new List<(int, int)>();
        int at = 0;
        uint sequence = 0;
        while (input.Length - at >= HeaderSize)
        {
            ReadOnlySpan<byte> header = input.Slice(at, HeaderSize);
            int length = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
            if (BinaryPrimitives.ReadUInt16LittleEndian(header) != Magic
                || header[2] is < 1 or > 14 // Hello .. WitnessAnswer
                || header[3] != 0
                || length < 0 || length > maxBodyLength)
            {
                return (frames, true);
            }

            if (input.Length - at - HeaderSize < length)
            {
                return (frames, false);
            }

            if (Crc32C.Compute(header[..12], input.Slice(at + HeaderSize, length)) != BinaryPrimitives.ReadUInt32LittleEndian(header[12..])
                || BinaryPrimitives.ReadUInt32LittleEndian(header[8..]) != sequence)
            {
                return (frames, true);
            }

            frames.Add((at, length));
            at += HeaderSize + length;
            sequence++;
        }

        return (frames, false);
    }
}
