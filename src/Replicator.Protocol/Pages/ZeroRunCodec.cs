namespace Replicator.Protocol.Pages;

/// <summary>
/// A run-length form for bytes that are mostly zero, as a page's difference from its previous
/// contents is: pairs of (zero-run length, literal length) as unsigned LEB128 numbers, each followed by
/// its literal bytes, until the whole length is covered. Zero runs shorter than
/// <see cref="ShortestRun"/> stay inside a literal, where they cost less than a new pair.
/// </summary>
public static class ZeroRunCodec
{
    /// <summary>Zero runs shorter than this are carried as literal bytes: a new pair costs two bytes at least.</summary>
    public const int ShortestRun = 3;

    /// <summary>
    /// Encodes <paramref name="source"/> into <paramref name="target"/>; the bytes written, or -1 when
    /// they would not fit (the caller sends the bytes whole instead).
    /// </summary>
    public static int Encode(ReadOnlySpan<byte> source, Span<byte> target)
    {
        int at = 0;
        int written = 0;
        while (at < source.Length)
        {
            int zeros = source[at..].IndexOfAnyExcept((byte)0);
            zeros = zeros < 0 ? source.Length - at : zeros;
            at += zeros;
            int literalStart = at;
            while (at < source.Length)
            {
                int nextZero = source[at..].IndexOf((byte)0);
                if (nextZero < 0)
                {
                    at = source.Length;
                    break;
                }

                at += nextZero;
                int run = source[at..].IndexOfAnyExcept((byte)0);
                if (run < 0 || run >= ShortestRun)
                {
                    break; // a run worth a pair of its own (or the zeros that end the span)
                }

                at += run;
            }

            int literal = at - literalStart;
            if (!TryWrite(target, ref written, (uint)zeros) || !TryWrite(target, ref written, (uint)literal) || literal > target.Length - written)
            {
                return -1;
            }

            source.Slice(literalStart, literal).CopyTo(target[written..]);
            written += literal;
        }

        return written;
    }

    /// <summary>
    /// Decodes <paramref name="source"/> into all of <paramref name="target"/>, which it must fill
    /// exactly; false when it is malformed (a length past the end, bytes left over, too few bytes).
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> source, Span<byte> target)
    {
        int read = 0;
        int at = 0;
        while (read < source.Length)
        {
            if (!TryRead(source, ref read, out uint zeros) || !TryRead(source, ref read, out uint literal)
                || zeros > (uint)(target.Length - at) || literal > (uint)(target.Length - at - (int)zeros) || literal > (uint)(source.Length - read))
            {
                return false;
            }

            target.Slice(at, (int)zeros).Clear();
            at += (int)zeros;
            source.Slice(read, (int)literal).CopyTo(target[at..]);
            at += (int)literal;
            read += (int)literal;
        }

        return at == target.Length;
    }

    private static bool TryWrite(Span<byte> target, ref int written, uint value)
    {
        do
        {
            if (written == target.Length)
            {
                return false;
            }

            byte next = (byte)(value & 0x7F);
            value >>= 7;
            target[written++] = value == 0 ? next : (byte)(next | 0x80);
        }
        while (value != 0);
        return true;
    }

    /// <summary>An unsigned LEB128 number of at most four bytes (pages are far below 2^28 bytes).</summary>
    internal static bool TryRead(ReadOnlySpan<byte> source, ref int read, out uint value)
    {
        value = 0;
        for (int shift = 0; shift < 28; shift += 7)
        {
            if (read == source.Length)
            {
                return false;
            }

            byte next = source[read++];
            value |= (uint)(next & 0x7F) << shift;
            if ((next & 0x80) == 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Writes <paramref name="value"/> as unsigned LEB128; the bytes written, or -1 when <paramref name="target"/> is too short.</summary>
    internal static int Write(Span<byte> target, uint value)
    {
        int written = 0;
        return TryWrite(target, ref written, value) ? written : -1;
    }
}
