using System.Buffers;
using CsCheck;
using MessagePack;
using Replicator.Fuzz.Tests.Infrastructure;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using Replicator.Protocol.Pages;
using Xunit.Abstractions;

namespace Replicator.Fuzz.Tests.Harnesses;

/// <summary>
/// <see cref="ControlCodec"/> against MessagePack bodies: one of every control message (the
/// corpus), mutated, with MessagePack tokens spliced in (headers claiming 2^31 items or bytes, deep
/// nesting, every type marker), and raw bytes; each body decoded as every control message type.
/// </summary>
public class ControlCodecFuzz(ITestOutputHelper output)
{
    public const long SmokeInputs = 20_000;

    /// <summary>Per decode: a body may fan out (an array of n nils is n references), but never towards what a header claims.</summary>
    private const int AllocationPerBodyByte = 64;
    private const int AllocationSlack = 64 << 10;

    /// <summary>MessagePack byte strings worth splicing into a body.</summary>
    internal static readonly byte[][] MessagePackTokens =
    [
        [0xdd, 0x7f, 0xff, 0xff, 0xff], // array32 of 2^31-1 items
        [0xdd, 0xff, 0xff, 0xff, 0xff], // array32 of 2^32-1 items
        [0xdc, 0xff, 0xff], // array16 of 65535 items
        [0xde, 0x7f, 0xff, 0xff, 0xff], // map32 of 2^31-1 pairs
        [0xc6, 0x7f, 0xff, 0xff, 0xff], // bin32 of 2 GiB
        [0xc6, 0xff, 0xff, 0xff, 0xff], // bin32 of 4 GiB
        [0xc5, 0xff, 0xff], // bin16
        [0xdb, 0x7f, 0xff, 0xff, 0xff], // str32 of 2 GiB
        [0xd9, 0xff], // str8
        [0xc7, 0xff, 0x01], // ext8
        [0xc9, 0x7f, 0xff, 0xff, 0xff, 0x01], // ext32 of 2 GiB
        [0xd6, 0xff, 0x00, 0x00, 0x00, 0x00], // fixext4: a timestamp
        [0xc1], // never used
        [0xc0], [0xc2], [0xc3], [0xa0], [0x90], [0x80], [0x92], [0x9f], [0x8f],
        [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // uint64 max
        [0xd3, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], // int64 min
        [0xce, 0xff, 0xff, 0xff, 0xff], // uint32 max
        [0xcb, 0x7f, 0xf8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], // float64 NaN
        [0xca, 0x7f, 0x80, 0x00, 0x00], // float32 infinity
        [0xa3, 0xe2, 0x82, 0x28], // str with invalid UTF-8
        [.. Enumerable.Repeat((byte)0x91, 1000), 0xc0], // nested 1000 deep
        [.. Enumerable.Repeat((byte)0x81, 300), 0xc0, 0xc0], // nested maps 300 deep
    ];

    private delegate object Decoder(in Frame frame);

    private sealed record MessageType(FrameType Type, Decoder Decode, Func<object, byte[]> Encode);

    private static MessageType Of<T>(FrameType type) =>
        new(type, (in Frame frame) => ControlCodec.Decode<T>(frame, type)!, message => MessagePackSerializer.Serialize((T)message, ControlCodec.Options));

    private static readonly MessageType[] Types =
    [
        Of<HelloMessage>(FrameType.Hello),
        Of<WelcomeMessage>(FrameType.Welcome),
        Of<CheckpointMessage>(FrameType.Checkpoint),
        Of<AckMessage>(FrameType.Ack),
        Of<CreditMessage>(FrameType.Credit),
        Of<HeartbeatMessage>(FrameType.Heartbeat),
        Of<RejectMessage>(FrameType.Reject),
        Of<ErrorMessage>(FrameType.Error),
        Of<ResyncStartMessage>(FrameType.ResyncStart),
        Of<VerifyResultMessage>(FrameType.VerifyResult),
        Of<SwitchoverMessage>(FrameType.Switchover),
        Of<Protocol.Witness.WitnessRequestMessage>(FrameType.WitnessRequest),
        Of<Protocol.Witness.WitnessAnswerMessage>(FrameType.WitnessAnswer),
    ];

    internal sealed record Input(byte[] Body, uint Split);

    private static Gen<Input> Inputs()
    {
        var format = new InputFormat { Tokens = MessagePackTokens, MaxRandomBytes = 128, MaxBytes = 16 << 10 };
        return Gen.Select(Infrastructure.Inputs.From(Corpus.Bytes(CorpusGenerator.Control), format), Gen.UInt, (body, split) => new Input(body, split));
    }

    [Fact]
    public void Seeds_decode_as_their_own_type()
    {
        foreach ((string name, FrameType type, _) in CorpusGenerator.ControlMessages())
        {
            byte[] body = Corpus.Load(CorpusGenerator.Control).Single(e => e.Name == $"gen-{name}.bin").Bytes;
            Assert.True(Decode(Types.Single(t => t.Type == type), body, 0, out _) is not null, name);
        }
    }

    [Fact]
    public void Any_body_decodes_as_any_type_or_is_a_protocol_violation_and_reencodes_stably()
    {
        // The serializer builds each type's formatter on first use: do that before measuring.
        foreach (byte[] seed in Corpus.Bytes(CorpusGenerator.Control))
        {
            Check(new Input(seed, 0), measure: false);
        }

        FuzzRunner.Run("control-codec", Inputs(), input => Check(input), i => $"split {i.Split}, body {Hex.Of(i.Body)}", SmokeInputs, output);
    }

    private static string Check(Input input, bool measure = true)
    {
        int decoded = 0;
        foreach (MessageType type in Types)
        {
            object? message = Decode(type, input.Body, input.Split, out long allocated);
            if (measure && allocated > ((long)AllocationPerBodyByte * input.Body.Length) + AllocationSlack)
            {
                throw new FuzzPropertyException("memory", $"decoding {input.Body.Length} bytes as {type.Type} allocated {allocated} bytes");
            }

            if (message is null)
            {
                continue;
            }

            decoded++;

            // Encoding what was decoded and decoding that gives the same bytes again: nothing is
            // read that cannot be written, and no field changes meaning on the way.
            byte[] once = type.Encode(message);
            object again = Decode(type, once, 0, out _) ?? throw new FuzzPropertyException("round trip", $"a {type.Type} encoded from a decoded one does not decode");
            byte[] twice = type.Encode(again);
            if (!once.AsSpan().SequenceEqual(twice))
            {
                throw new FuzzPropertyException("round trip", $"{type.Type} re-encodes as {Convert.ToHexString(once)}, then {Convert.ToHexString(twice)}");
            }

            if (message is CheckpointMessage checkpoint)
            {
                try
                {
                    // Encoded pages go through the link's decoder; it throws nothing but a protocol violation.
                    checkpoint.ToRecord(checkpoint.PageEncoding is PageEncoding.ZeroRuns or PageEncoding.Lz4 ? new CheckpointPageDecoder(checkpoint.PageEncoding, 64 * 1024, largestSnapshotBytes: 1 << 20) : null);
                }
                catch (ProtocolViolationException)
                {
                }
            }

            // The same body in a frame of another type is refused by type.
            FrameType other = type.Type == FrameType.VerifyResult ? FrameType.Hello : type.Type + 1;
            try
            {
                type.Decode(new Frame(new FrameHeader(other, 0, input.Body.Length, 0, 0), new ReadOnlySequence<byte>(input.Body)));
                throw new FuzzPropertyException("type", $"a {other} frame decoded as {type.Type}");
            }
            catch (ProtocolViolationException)
            {
            }
        }

        return decoded switch { 0 => "no type", 1 => "one type", _ => "several types" };
    }

    /// <summary>Decodes a body as a type; null when refused the documented way: a protocol violation, wrapping the serializer's exception if any.</summary>
    private static object? Decode(MessageType type, byte[] body, uint split, out long allocated)
    {
        var frame = new Frame(new FrameHeader(type.Type, 0, body.Length, 0, 0), Sequences.Split(body, split));
        long start = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            return type.Decode(frame);
        }
        catch (ProtocolViolationException e) when (e.InnerException is null or MessagePackSerializationException)
        {
            return null;
        }
        finally
        {
            allocated = GC.GetAllocatedBytesForCurrentThread() - start;
        }
    }
}
