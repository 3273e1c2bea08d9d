using System.Buffers;
using System.Buffers.Binary;
using CsCheck;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Fuzz.Tests.Infrastructure;
using Replicator.Protocol.Framing;
using Xunit.Abstractions;

namespace Replicator.Fuzz.Tests.Harnesses;

/// <summary>
/// <see cref="MirrorDecoder"/> against mirror bodies (the fixed 32-byte header and a payload):
/// the corpus' records of every operation, mutated with the header's fields as targets, and raw
/// bytes, in frames of any type and cut into two segments anywhere.
/// </summary>
public class MirrorDecoderFuzz(ITestOutputHelper output)
{
    public const long SmokeInputs = 50_000;

    internal sealed record Input(FrameType Type, byte[] Body, uint Split);

    private static Gen<Input> Inputs()
    {
        var format = new InputFormat
        {
            Fields = body => body.Length >= MirrorHeader.Size ? [.. Frames.MirrorFields(0)] : [],
            MaxRandomBytes = 96,
            MaxBytes = 16 << 10,
        };
        return Gen.Select(
            Gen.Frequency((9, Gen.Const(FrameType.Mirror)), (1, Gen.Byte.Select(b => (FrameType)b))),
            Infrastructure.Inputs.From(Corpus.Bytes(CorpusGenerator.Mirror), format),
            Gen.UInt,
            (type, body, split) => new Input(type, body, split));
    }

    [Fact]
    public void Seeds_decode()
    {
        foreach (CorpusEntry entry in Corpus.Load(CorpusGenerator.Mirror))
        {
            Assert.StartsWith("decoded", Check(new Input(FrameType.Mirror, entry.Bytes, 0)), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Any_body_decodes_to_exactly_its_header_and_payload_or_is_a_protocol_violation()
    {
        FuzzRunner.Run("mirror-decoder", Inputs(), Check, i => $"type {(byte)i.Type}, split {i.Split}, body {Hex.Of(i.Body)}", SmokeInputs, output);
    }

    private static string Check(Input input)
    {
        var frame = new Frame(new FrameHeader(input.Type, 0, input.Body.Length, 0, 0), Sequences.Split(input.Body, input.Split));
        var pool = new CountingPool();
        IMemoryOwner<byte>? owner = null;
        MirrorRecord record;
        long start = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            record = MirrorDecoder.Decode(frame, pool, out owner);
        }
        catch (ProtocolViolationException)
        {
            if (owner is not null || pool.Outstanding != 0)
            {
                throw new FuzzPropertyException("leak", "a rejected record kept a payload buffer");
            }

            return "rejected";
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - start;
        using (owner)
        {
            // Memory: the one buffer rented is exactly the payload, which the frame carries.
            long payloadBytes = input.Body.Length - MirrorHeader.Size;
            if (pool.Rented.Count != (payloadBytes > 0 ? 1 : 0) || (payloadBytes > 0 && pool.Rented[0] != payloadBytes) || (owner is null) != (payloadBytes == 0))
            {
                throw new FuzzPropertyException("memory", $"rented [{string.Join(",", pool.Rented)}] for a payload of {payloadBytes} bytes");
            }

            if (allocated > payloadBytes + (16 << 10))
            {
                throw new FuzzPropertyException("memory", $"allocated {allocated} bytes for a payload of {payloadBytes}");
            }

            ExpectExactly(input, record);
            return $"decoded {record.Request.Op}";
        }
    }

    /// <summary>A decoded record is the header's fields as the format lays them out, and only a well-formed header decodes.</summary>
    internal static void ExpectExactly(Input input, in MirrorRecord record)
    {
        ReadOnlySpan<byte> body = input.Body;
        if (input.Type != FrameType.Mirror)
        {
            throw new FuzzPropertyException("type", $"a {input.Type} frame decoded as a mirror record");
        }

        long epoch = BinaryPrimitives.ReadInt64LittleEndian(body);
        long sequence = BinaryPrimitives.ReadInt64LittleEndian(body[8..]);
        long offset = BinaryPrimitives.ReadInt64LittleEndian(body[16..]);
        int length = BinaryPrimitives.ReadInt32LittleEndian(body[24..]);
        byte op = body[28];
        byte flags = body[29];
        ushort reserved = BinaryPrimitives.ReadUInt16LittleEndian(body[30..]);
        // A write carries its bytes; a verify record 16 bytes of hash per 64 KiB block (the last may be short).
        int payload = op == (byte)BlockOp.Write ? length
            : op == (byte)BlockOp.Verify ? (length <= 0 ? 0 : (int)((length + 65535L) / 65536 * 16))
            : 0;
        bool wellFormed = epoch > 0 && sequence > 0 && op is >= 1 and <= 6 && flags <= 1 && reserved == 0 && body.Length - MirrorHeader.Size == payload;
        if (!wellFormed)
        {
            throw new FuzzPropertyException("accepted", $"a malformed header decoded: epoch {epoch}, sequence {sequence}, op {op}, flags {flags}, reserved {reserved}, length {length}, {body.Length - MirrorHeader.Size} payload bytes");
        }

        if (record.Epoch != epoch || record.Sequence != sequence || record.Request != new BlockRequest((BlockOp)op, offset, length, flags == 1)
            || !record.Payload.Span.SequenceEqual(body[MirrorHeader.Size..]))
        {
            throw new FuzzPropertyException("fields", $"decoded {record} from epoch {epoch}, sequence {sequence}, {(BlockOp)op} {offset}+{length} flags {flags}");
        }
    }
}
