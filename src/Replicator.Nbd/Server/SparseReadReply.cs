using System.Buffers.Binary;
using Replicator.Nbd.Protocol;

namespace Replicator.Nbd.Server;

/// <summary>
/// Lays out a structured reply to a read in place, in the buffer the data was read into: runs of
/// data become OFFSET_DATA chunks, and aligned 4 KiB blocks of zeroes become OFFSET_HOLE chunks, so
/// zeroes never cross the wire. The reply stays one buffer sent in one write.
/// </summary>
/// <remarks>
/// The data was read to <see cref="NbdStructuredReply.DataChunkPrefix"/> bytes into the buffer, just
/// enough room for the first data chunk's header. Each chunk is written at or before the place its
/// bytes were read to: a data chunk's header needs 28 bytes and a hole chunk takes 32 in all, while
/// a hole frees at least 4096, so every later chunk only moves left and never overwrites bytes not
/// yet placed. Reads without zero blocks (the common case) move nothing; scanning a block of data
/// stops at its first non-zero byte.
/// </remarks>
internal static class SparseReadReply
{
    /// <summary>Holes are whole aligned blocks of this size; shorter runs of zeroes are sent as data.</summary>
    public const int HoleGranularity = 4096;

    /// <summary>
    /// Builds the reply to a read of <paramref name="length"/> bytes at <paramref name="offset"/>,
    /// whose data is at <see cref="NbdStructuredReply.DataChunkPrefix"/>; returns the reply's length,
    /// starting at the buffer's first byte. Without <paramref name="allowHoles"/> (the client set DF)
    /// it is one data chunk.
    /// </summary>
    public static int Lay(Span<byte> buffer, ulong handle, long offset, int length, bool allowHoles)
    {
        int written = 0;
        int start = 0;
        while (start < length)
        {
            // A run: blocks of one kind from here on, each block looked at once.
            bool hole = allowHoles && IsZeroBlock(buffer, offset, start, length);
            int end = NextBoundary(offset, start, length);
            while (end < length && (allowHoles && IsZeroBlock(buffer, offset, end, length)) == hole)
            {
                end = NextBoundary(offset, end, length);
            }

            bool last = end == length;
            if (hole)
            {
                Span<byte> chunk = buffer[written..];
                NbdStructuredReply.WriteHeader(chunk, last, NbdReplyChunkType.OffsetHole, handle, 12);
                BinaryPrimitives.WriteUInt64BigEndian(chunk[NbdStructuredReply.HeaderSize..], (ulong)(offset + start));
                BinaryPrimitives.WriteUInt32BigEndian(chunk[(NbdStructuredReply.HeaderSize + 8)..], (uint)(end - start));
                written += NbdStructuredReply.HoleChunkSize;
            }
            else
            {
                // The header first: it lies wholly before the bytes it describes (see remarks).
                int bytes = end - start;
                Span<byte> chunk = buffer[written..];
                NbdStructuredReply.WriteHeader(chunk, last, NbdReplyChunkType.OffsetData, handle, 8 + bytes);
                BinaryPrimitives.WriteUInt64BigEndian(chunk[NbdStructuredReply.HeaderSize..], (ulong)(offset + start));
                int from = NbdStructuredReply.DataChunkPrefix + start;
                int to = written + NbdStructuredReply.DataChunkPrefix;
                if (from != to)
                {
                    buffer.Slice(from, bytes).CopyTo(buffer[to..]);
                }

                written = to + bytes;
            }

            start = end;
        }

        return written;
    }

    /// <summary>True when the block at <paramref name="at"/> is a whole aligned 4 KiB block inside the read, all zeroes.</summary>
    private static bool IsZeroBlock(ReadOnlySpan<byte> buffer, long offset, int at, int length)
    {
        int end = NextBoundary(offset, at, length);
        return (offset + at) % HoleGranularity == 0
            && end - at == HoleGranularity
            && !buffer.Slice(NbdStructuredReply.DataChunkPrefix + at, HoleGranularity).ContainsAnyExcept((byte)0);
    }

    /// <summary>The next 4 KiB boundary of the disk after <paramref name="at"/>, or the read's end.</summary>
    private static int NextBoundary(long offset, int at, int length)
    {
        long absolute = offset + at;
        long boundary = (absolute / HoleGranularity + 1) * HoleGranularity;
        return (int)Math.Min(boundary - offset, length);
    }
}
