using System.Buffers;
using System.Buffers.Binary;
using CsCheck;
using Replicator.Fuzz.Tests.Infrastructure;
using Replicator.Protocol.Framing;
using Xunit.Abstractions;

namespace Replicator.Fuzz.Tests.Harnesses;

/// <summary>
/// <see cref="FrameReader"/> against streams of frames: the corpus' sessions and single frames,
/// mutated (and often re-sealed with fresh checksums so the mutation reaches the checks behind the
/// checksum), and raw bytes; each read whole and again in random chunks as a socket delivers them.
/// </summary>
public class FrameReaderFuzz(ITestOutputHelper output)
{
    public const long SmokeInputs = 20_000;

    /// <summary>Body bounds a reader is made with: tiny, a mirror of the corpus' largest write, 1 MiB, and the largest <see cref="LinkLimits"/> gives (RAM of 2 GiB and more).</summary>
    private static readonly int[] MaxBodies = [64, 600, 4096 + MirrorHeader.Size, 1 << 20, LinkLimits.MaxBodyLength(1 << 20, 4L << 30, 4096)];

    /// <summary>Reader work and allocation per input are bounded: only a rejection's exception allocates.</summary>
    private const long MaxAllocatedBytes = 256 << 10;

    internal sealed record Input(byte[] Stream, int[] Chunks, int MaxBody);

    internal static Gen<byte[]> Streams()
    {
        var format = new InputFormat { Fields = Frames.StreamFields, MaxRandomBytes = 256, MaxBytes = 64 << 10 };
        return CsCheck.Gen.Select(Infrastructure.Inputs.From(Corpus.Bytes(CorpusGenerator.Frames), format), CsCheck.Gen.Int[0, 3], (bytes, reseal) => reseal switch
        {
            1 => Frames.Reseal(bytes, renumber: false),
            2 => Frames.Reseal(bytes, renumber: true),
            _ => bytes,
        });
    }

    private static Gen<Input> Inputs() =>
        CsCheck.Gen.Select(
            Streams(),
            CsCheck.Gen.Frequency((3, CsCheck.Gen.Int[1, 64]), (1, CsCheck.Gen.Int[1, 8192])).Array[1, 8],
            CsCheck.Gen.Int[0, MaxBodies.Length - 1],
            (stream, chunks, max) => new Input(stream, chunks, MaxBodies[max]));

    [Fact]
    public void Seeds_read_whole_with_no_rejection()
    {
        foreach (CorpusEntry entry in Corpus.Load(CorpusGenerator.Frames))
        {
            (List<(int Offset, int Length)> frames, bool rejected) = ReadWhole(entry.Bytes, 1 << 20, out _);
            Assert.False(rejected, entry.Name);
            Assert.Equal(entry.Bytes.Length, frames.Sum(f => Frames.HeaderSize + f.Length));
        }
    }

    [Fact]
    public void Any_stream_is_cut_into_exactly_the_frames_the_format_allows_or_rejected()
    {
        FuzzRunner.Run("frame-reader", Inputs(), Check, i => $"max body {i.MaxBody}, chunks [{string.Join(",", i.Chunks)}], stream {Hex.Of(i.Stream)}", SmokeInputs, output);
    }

    private static string Check(Input input)
    {
        (List<(int Offset, int Length)> frames, bool rejected) = ReadWhole(input.Stream, input.MaxBody, out long allocated);
        if (allocated > MaxAllocatedBytes)
        {
            throw new FuzzPropertyException("memory", $"reading {input.Stream.Length} bytes allocated {allocated} bytes");
        }

        (List<(int Offset, int Length)> expected, bool expectRejected) = Frames.Expected(input.Stream, input.MaxBody);
        if (!frames.SequenceEqual(expected) || rejected != expectRejected)
        {
            throw new FuzzPropertyException("format", $"read {Describe(frames, rejected)}, the format says {Describe(expected, expectRejected)}");
        }

        (List<(int Offset, int Length)> chunked, bool chunkedRejected) = ReadChunked(input);
        if (!chunked.SequenceEqual(frames) || chunkedRejected != rejected)
        {
            throw new FuzzPropertyException("delivery", $"the outcome depends on how the bytes arrive: whole {Describe(frames, rejected)}, in chunks {Describe(chunked, chunkedRejected)}");
        }

        return $"{(rejected ? "rejected" : "incomplete or whole")} after {Bucket(frames.Count)} frames";
    }

    private static string Describe(List<(int Offset, int Length)> frames, bool rejected) =>
        $"{frames.Count} frames ({string.Join(" ", frames.Select(f => $"{f.Offset}+{f.Length}"))}) then {(rejected ? "a rejection" : "a wait for more")}";

    internal static string Bucket(int count) => count switch { 0 => "0", 1 => "1", < 6 => "2-5", _ => "6+" };

    /// <summary>Reads a whole stream: every frame returned is checked against the bytes, and each call must consume a frame or stop.</summary>
    private static (List<(int Offset, int Length)> Frames, bool Rejected) ReadWhole(byte[] stream, int maxBody, out long allocated)
    {
        var reader = new FrameReader(maxBody);
        var buffer = new ReadOnlySequence<byte>(stream);
        var frames = new List<(int, int)>();
        allocated = 0;
        int offset = 0;
        for (int calls = 0; ; calls++)
        {
            if (calls > (stream.Length / Frames.HeaderSize) + 1)
            {
                throw new FuzzPropertyException("spin", $"{calls} calls on {stream.Length} bytes");
            }

            long before = buffer.Length;
            long start = GC.GetAllocatedBytesForCurrentThread();
            bool read;
            Frame frame;
            try
            {
                read = reader.TryRead(ref buffer, out frame);
            }
            catch (ProtocolViolationException)
            {
                allocated += GC.GetAllocatedBytesForCurrentThread() - start;
                return (frames, true);
            }

            allocated += GC.GetAllocatedBytesForCurrentThread() - start;
            if (!read)
            {
                if (buffer.Length != before)
                {
                    throw new FuzzPropertyException("progress", $"consumed {before - buffer.Length} bytes without returning a frame");
                }

                return (frames, false);
            }

            Accept(stream, ref offset, frame, frames.Count, frames);
            if (buffer.Length != stream.Length - offset)
            {
                throw new FuzzPropertyException("progress", $"after frame {frames.Count - 1} the buffer holds {buffer.Length} bytes, {stream.Length - offset} are left");
            }
        }
    }

    /// <summary>A returned frame is the next bytes of the stream, sealed by its checksum and numbered in order.</summary>
    private static void Accept(byte[] stream, ref int offset, in Frame frame, int index, List<(int, int)> frames)
    {
        int length = (int)frame.Body.Length;
        ReadOnlySpan<byte> header = stream.AsSpan(offset, Frames.HeaderSize);
        if (frame.Header.BodyLength != length
            || BinaryPrimitives.ReadInt32LittleEndian(header[4..]) != length
            || (byte)frame.Type != header[2]
            || frame.Header.LinkSequence != (uint)index
            || !frame.Body.ToArray().AsSpan().SequenceEqual(stream.AsSpan(offset + Frames.HeaderSize, length))
            || Crc32C.Compute(header[..12], stream.AsSpan(offset + Frames.HeaderSize, length)) != frame.Header.Checksum)
        {
            throw new FuzzPropertyException("frame", $"frame {index} at {offset} is not the bytes there, or its checksum or number is wrong");
        }

        frames.Add((offset, length));
        offset += Frames.HeaderSize + length;
    }

    /// <summary>Delivers the stream in chunks (cycling through the chunk sizes), reading after each as the link's receive loop does.</summary>
    private static (List<(int Offset, int Length)> Frames, bool Rejected) ReadChunked(Input input)
    {
        var reader = new FrameReader(input.MaxBody);
        var frames = new List<(int, int)>();
        ReadOnlySequence<byte> buffer = ReadOnlySequence<byte>.Empty;
        int fed = 0;
        int offset = 0;
        for (int chunk = 0; fed < input.Stream.Length; chunk++)
        {
            int size = Math.Min(input.Chunks[chunk % input.Chunks.Length], input.Stream.Length - fed);
            buffer = Sequences.Append(buffer, input.Stream.AsMemory(fed, size));
            fed += size;
            try
            {
                while (reader.TryRead(ref buffer, out Frame frame))
                {
                    Accept(input.Stream, ref offset, frame, frames.Count, frames);
                }
            }
            catch (ProtocolViolationException)
            {
                return (frames, true);
            }
        }

        return (frames, false);
    }
}
