using System.Buffers;

namespace Replicator.Fuzz.Tests.Infrastructure;

/// <summary>Builds multi-segment <see cref="ReadOnlySequence{T}"/>s, as a pipe hands them to a reader.</summary>
internal static class Sequences
{
    public static ReadOnlySequence<byte> Of(IEnumerable<ReadOnlyMemory<byte>> pieces)
    {
        Segment? first = null;
        Segment? last = null;
        foreach (ReadOnlyMemory<byte> piece in pieces)
        {
            if (piece.IsEmpty)
            {
                continue;
            }

            var segment = new Segment(piece, last is null ? 0 : last.RunningIndex + last.Memory.Length);
            if (last is null)
            {
                first = segment;
            }
            else
            {
                last.SetNext(segment);
            }

            last = segment;
        }

        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }

    /// <summary>The bytes cut in two at <paramref name="split"/> (modulo the length).</summary>
    public static ReadOnlySequence<byte> Split(byte[] bytes, uint split)
    {
        int at = (int)(split % (uint)(bytes.Length + 1));
        return Of([bytes.AsMemory(0, at), bytes.AsMemory(at)]);
    }

    /// <summary>What is left of <paramref name="buffer"/> followed by <paramref name="more"/>.</summary>
    public static ReadOnlySequence<byte> Append(in ReadOnlySequence<byte> buffer, ReadOnlyMemory<byte> more)
    {
        var pieces = new List<ReadOnlyMemory<byte>>();
        foreach (ReadOnlyMemory<byte> piece in buffer)
        {
            pieces.Add(piece);
        }

        pieces.Add(more);
        return Of(pieces);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public void SetNext(Segment next) => Next = next;
    }
}
