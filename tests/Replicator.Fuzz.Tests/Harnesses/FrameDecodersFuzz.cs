using System.Buffers;
using System.Buffers.Binary;
using CsCheck;
using MessagePack;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Fuzz.Tests.Infrastructure;
using Replicator.Hosts.Primary;
using Replicator.Hosts.Secondary;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using Replicator.Protocol.Pages;
using Xunit.Abstractions;

namespace Replicator.Fuzz.Tests.Harnesses;

/// <summary>
/// <see cref="SecondaryFrameDecoder"/> and <see cref="PrimaryFrameDecoder"/>, as the links run them:
/// behind a <see cref="FrameReader"/> on mutated streams of both directions, and on frames handed
/// to them directly (any type, any body, whatever checksum). A decoder turns every frame into a
/// typed input and never throws; a frame that is not sealed (checksum, link sequence) never becomes
/// an input the hosts act on; and a mirror record the secondary's geometry check lets through lies
/// on the disk.
/// </summary>
public class FrameDecodersFuzz(ITestOutputHelper output)
{
    public const long SmokeInputs = 20_000;

    /// <summary>The disk the geometry check guards: 1 GiB, requests up to 1 MiB.</summary>
    private static readonly BlockGeometry Disk = new(1L << 30, 1 << 20);

    /// <summary>
    /// Bugs in src/ these harnesses found and that are not fixed yet, by property name (see
    /// docs/fuzzing.md, "Findings"): shown in the summary, failed on only with REPLICATOR_FUZZ_STRICT=1.
    /// Empty: the one found so far (a mirror record wrapping past long.MaxValue) is fixed.
    /// </summary>
    internal static readonly Dictionary<string, string> KnownBugs = new(StringComparer.Ordinal);

    internal sealed record DirectInput(FrameType Type, byte[] Body, uint Split);

    private static Gen<DirectInput> DirectInputs()
    {
        byte[][] bodies = [.. Corpus.Bytes(CorpusGenerator.Control), .. Corpus.Bytes(CorpusGenerator.Mirror)];
        var format = new InputFormat { Fields = body => body.Length >= MirrorHeader.Size ? [.. Frames.MirrorFields(0)] : [], Tokens = ControlCodecFuzz.MessagePackTokens, MaxRandomBytes = 128, MaxBytes = 16 << 10 };
        return Gen.Select(
            Gen.Frequency((9, Gen.Byte[1, 14]), (1, Gen.Byte)).Select(b => (FrameType)b),
            Infrastructure.Inputs.From(bodies, format),
            Gen.UInt,
            (type, body, split) => new DirectInput(type, body, split));
    }

    [Fact]
    public void Seed_sessions_decode_to_the_inputs_they_carry()
    {
        Assert.Equal(
            "Hello ResyncStart Mirror Mirror Mirror Mirror Mirror Mirror Mirror Checkpoint Heartbeat Switchover PeerError",
            string.Join(" ", DecodeStream(Corpus.Load(CorpusGenerator.Frames).Single(e => e.Name == "gen-session-to-secondary.bin").Bytes).Secondary));
        Assert.Equal(
            "Welcome Credit Ack Ack VerifyResult Heartbeat Reject PeerError",
            string.Join(" ", DecodeStream(Corpus.Load(CorpusGenerator.Frames).Single(e => e.Name == "gen-session-to-primary.bin").Bytes).Primary));
    }

    [Fact]
    public void Found_a_mirror_record_past_long_MaxValue_is_refused_by_the_geometry_check()
    {
        // Kept in the corpus: a sealed mirror frame, WriteZeroes at 0x7FFFFFFFFFFFFE00 + 1 MiB (FUA), epoch 2, sequence 73.
        byte[] stream = Corpus.Load(CorpusGenerator.Frames).Single(e => e.Name == "found-geometry-wrap.bin").Bytes;
        DecodeStream(stream);
    }

    [Fact]
    public void Behind_the_reader_only_sealed_frames_become_inputs_and_nothing_throws()
    {
        FuzzRunner.Run("frame-decoders", FrameReaderFuzz.Streams(), bytes => Summarize(DecodeStream(bytes)), bytes => Hex.Of(bytes), SmokeInputs, output, KnownBugs);
    }

    [Fact]
    public void Any_frame_handed_to_a_decoder_becomes_a_typed_input_and_nothing_throws()
    {
        FuzzRunner.Run("frame-decoders-direct", DirectInputs(), CheckDirect, i => $"type {(byte)i.Type}, split {i.Split}, body {Hex.Of(i.Body)}", SmokeInputs, output, KnownBugs);
    }

    private static string Summarize((List<SecondaryInputKind> Secondary, List<PrimaryInputKind> Primary) kinds) =>
        $"{FrameReaderFuzz.Bucket(kinds.Secondary.Count(k => k is not SecondaryInputKind.Malformed))} secondary / {FrameReaderFuzz.Bucket(kinds.Primary.Count(k => k is not PrimaryInputKind.Malformed and not PrimaryInputKind.Unexpected))} primary inputs";

    /// <summary>Reads a stream as the link does and hands each frame to both decoders.</summary>
    private static (List<SecondaryInputKind> Secondary, List<PrimaryInputKind> Primary) DecodeStream(byte[] stream)
    {
        var reader = new FrameReader(1 << 20);
        var buffer = new ReadOnlySequence<byte>(stream);
        var secondary = new List<SecondaryInputKind>();
        var primary = new List<PrimaryInputKind>();
        int offset = 0;
        uint index = 0;
        while (true)
        {
            Frame frame;
            try
            {
                if (!reader.TryRead(ref buffer, out frame))
                {
                    break;
                }
            }
            catch (ProtocolViolationException)
            {
                break;
            }

            // The oracle's view of the frame: sealed if its checksum matches its bytes and its number is the next.
            ReadOnlySpan<byte> header = stream.AsSpan(offset, Frames.HeaderSize);
            int length = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
            bool @sealed = length == frame.Body.Length
                && Crc32C.Compute(header[..12], stream.AsSpan(offset + Frames.HeaderSize, length)) == BinaryPrimitives.ReadUInt32LittleEndian(header[12..])
                && BinaryPrimitives.ReadUInt32LittleEndian(header[8..]) == index;
            secondary.Add(CheckSecondary(frame, @sealed, stream.AsSpan(offset + Frames.HeaderSize, (int)frame.Body.Length).ToArray()));
            primary.Add(CheckPrimary(frame, @sealed));
            offset += Frames.HeaderSize + (int)frame.Body.Length;
            index++;
        }

        return (secondary, primary);
    }

    private static string CheckDirect(DirectInput input)
    {
        var frame = new Frame(new FrameHeader(input.Type, 0, input.Body.Length, 0, 0xBAD), Sequences.Split(input.Body, input.Split));
        SecondaryInputKind secondary = CheckSecondary(frame, @sealed: true, input.Body);
        PrimaryInputKind primary = CheckPrimary(frame, @sealed: true);
        return $"{input.Type}: {secondary} / {primary}";
    }

    private static SecondaryInputKind CheckSecondary(in Frame frame, bool @sealed, byte[] body)
    {
        SecondaryInput input = SecondaryFrameDecoder.Decode(frame, receivedAt: 0);
        // A checkpoint's memory goes with its decode (ExpectDecodedOrRefused), never twice.
        using (input.Kind == SecondaryInputKind.Checkpoint ? null : input.Owner)
        {
            FrameType? carriedBy = input.Kind switch
            {
                SecondaryInputKind.Hello => FrameType.Hello,
                SecondaryInputKind.Mirror => FrameType.Mirror,
                SecondaryInputKind.Checkpoint => FrameType.Checkpoint,
                SecondaryInputKind.ResyncStart => FrameType.ResyncStart,
                SecondaryInputKind.Heartbeat => FrameType.Heartbeat,
                SecondaryInputKind.Switchover => FrameType.Switchover,
                SecondaryInputKind.PeerError => FrameType.Error,
                SecondaryInputKind.WitnessAnswer => FrameType.WitnessAnswer,
                _ => null,
            };
            if (input.Kind == SecondaryInputKind.Malformed)
            {
                if (string.IsNullOrEmpty(input.Reason) || input.Owner is not null)
                {
                    throw new FuzzPropertyException("malformed", "a malformed input without a reason, or holding a payload");
                }

                return input.Kind;
            }

            if (carriedBy != frame.Type)
            {
                throw new FuzzPropertyException("kind", $"a {frame.Type} frame became a secondary {input.Kind} input");
            }

            if (!@sealed)
            {
                throw new FuzzPropertyException("sealed", $"a frame whose checksum or number is wrong became a secondary {input.Kind} input");
            }

            switch (input.Kind)
            {
                case SecondaryInputKind.Hello when input.Hello is null:
                case SecondaryInputKind.ResyncStart when input.ResyncStart is null:
                case SecondaryInputKind.WitnessAnswer when input.WitnessAnswer is null:
                    throw new FuzzPropertyException("content", $"a {input.Kind} input without its message");
                case SecondaryInputKind.Mirror:
                    MirrorDecoderFuzz.ExpectExactly(new MirrorDecoderFuzz.Input(FrameType.Mirror, body, 0), input.Record);
                    ExpectOnDisk(input.Record);
                    break;
                case SecondaryInputKind.Checkpoint:
                    ExpectDecodedOrRefused(input, body);
                    break;
                default:
                    break;
            }

            return input.Kind;
        }
    }

    private static PrimaryInputKind CheckPrimary(in Frame frame, bool @sealed)
    {
        PrimaryInput input = PrimaryFrameDecoder.Decode(frame);
        FrameType? carriedBy = input.Kind switch
        {
            PrimaryInputKind.Welcome => FrameType.Welcome,
            PrimaryInputKind.Ack => FrameType.Ack,
            PrimaryInputKind.Credit => FrameType.Credit,
            PrimaryInputKind.Reject => FrameType.Reject,
            PrimaryInputKind.Heartbeat => FrameType.Heartbeat,
                PrimaryInputKind.WitnessAnswer => FrameType.WitnessAnswer,
            PrimaryInputKind.PeerError => FrameType.Error,
            PrimaryInputKind.VerifyResult => FrameType.VerifyResult,
            _ => null,
        };
        switch (input.Kind)
        {
            case PrimaryInputKind.Malformed when string.IsNullOrEmpty(input.Reason):
                throw new FuzzPropertyException("malformed", "a malformed input without a reason");
            case PrimaryInputKind.Malformed:
                return input.Kind;
            case PrimaryInputKind.Unexpected when frame.Type is FrameType.Welcome or FrameType.Ack or FrameType.Credit or FrameType.Reject or FrameType.Heartbeat or FrameType.Error or FrameType.VerifyResult:
                throw new FuzzPropertyException("kind", $"a {frame.Type} frame, which a secondary sends, was called unexpected");
            case PrimaryInputKind.Unexpected:
                return input.Kind;
            default:
                break;
        }

        if (carriedBy != frame.Type || input.Type != frame.Type || input.LinkSequence != frame.Header.LinkSequence)
        {
            throw new FuzzPropertyException("kind", $"a {frame.Type} frame became a primary {input.Kind} input");
        }

        if (!@sealed)
        {
            throw new FuzzPropertyException("sealed", $"a frame whose checksum or number is wrong became a primary {input.Kind} input");
        }

        if (input.Kind == PrimaryInputKind.Welcome && input.Welcome is null)
        {
            throw new FuzzPropertyException("content", "a welcome input without its message");
        }

        return input.Kind;
    }

    /// <summary>What the secondary's engine lets through its geometry check must address the disk: the gate before a record is buffered and committed.</summary>
    private static void ExpectOnDisk(in MirrorRecord record)
    {
        BlockRequest request = record.Request;
        if (request.Op == BlockOp.Skipped || Disk.ValidateRecord(request, record.Payload.Length) is not null)
        {
            return;
        }

        bool onDisk = request.Op == BlockOp.Flush
            ? request.Offset == 0 && request.Length == 0
            : request.Offset >= 0 && request.Length > 0 && (Int128)request.Offset + request.Length <= Disk.DiskBytes;
        if (!onDisk)
        {
            throw new FuzzPropertyException("geometry", $"the geometry check accepted {request.Op} {request.Offset}+{request.Length} on a disk of {Disk.DiskBytes} bytes");
        }
    }

    /// <summary>
    /// A checkpoint's body, copied whole by the receive loop, then decoded as the host does, on a link
    /// that agreed on no encoding and on links that agreed on each (as their first encoded
    /// checkpoint): it decodes into a checkpoint that round-trips, or is refused as a protocol
    /// violation — never another exception.
    /// </summary>
    private static void ExpectDecodedOrRefused(in SecondaryInput input, byte[] body)
    {
        if (!input.CheckpointBody.Span.SequenceEqual(body))
        {
            throw new FuzzPropertyException("content", "a checkpoint input whose body is not its frame's");
        }

        foreach (PageEncoding encoding in (ReadOnlySpan<PageEncoding>)[PageEncoding.None, PageEncoding.ZeroRuns, PageEncoding.Lz4])
        {
            // The input's memory goes with the first decode (kept or returned): the others decode a copy.
            SecondaryInput copy = encoding == PageEncoding.None ? input : input with { Owner = null, CheckpointBody = body };
            CheckpointPageDecoder? pages = encoding == PageEncoding.None ? null : new CheckpointPageDecoder(encoding, 64 * 1024, largestSnapshotBytes: 1 << 20);
            CheckpointRecord decoded;
            IDisposable? snapshotOwner;
            try
            {
                decoded = SecondaryFrameDecoder.DecodeCheckpoint(copy, pages, out snapshotOwner);
            }
            catch (ProtocolViolationException)
            {
                continue;
            }

            ExpectRoundTrip(decoded);
            snapshotOwner?.Dispose();
        }
    }

    /// <summary>A checkpoint decoded, encoded again and decoded again is the same checkpoint.</summary>
    private static void ExpectRoundTrip(CheckpointRecord checkpoint)
    {
        byte[] body = MessagePackSerializer.Serialize(CheckpointMessage.From(checkpoint), ControlCodec.Options);
        var frame = new Frame(new FrameHeader(FrameType.Checkpoint, 0, body.Length, 0, 0), new ReadOnlySequence<byte>(body));
        CheckpointRecord again = ControlCodec.Decode<CheckpointMessage>(frame, FrameType.Checkpoint).ToRecord();
        bool same = again.Epoch == checkpoint.Epoch && again.FirstSequence == checkpoint.FirstSequence && again.LastSequence == checkpoint.LastSequence
            && again.Digest == checkpoint.Digest && again.SnapshotDigest == checkpoint.SnapshotDigest
            && again.StartsResync == checkpoint.StartsResync && again.ResyncPending == checkpoint.ResyncPending
            && again.Snapshot.CpuState.AsSpan().SequenceEqual(checkpoint.Snapshot.CpuState)
            && again.Snapshot.Pages.Count == checkpoint.Snapshot.Pages.Count
            && again.Snapshot.Pages.Zip(checkpoint.Snapshot.Pages).All(p => p.First.Index == p.Second.Index && p.First.Data.Span.SequenceEqual(p.Second.Data.Span));
        if (!same)
        {
            throw new FuzzPropertyException("round trip", $"checkpoint {checkpoint.Epoch} changed on a round trip");
        }
    }
}
