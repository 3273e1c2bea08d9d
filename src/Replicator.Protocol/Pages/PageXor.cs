using System.Numerics;
using System.Runtime.InteropServices;

namespace Replicator.Protocol.Pages;

/// <summary>The difference of two pages, byte by byte (XOR), a vector at a time.</summary>
internal static class PageXor
{
    /// <summary><paramref name="into"/> = <paramref name="left"/> XOR <paramref name="right"/>; all three of one length, <paramref name="into"/> may be either input.</summary>
    public static void Apply(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right, Span<byte> into)
    {
        int length = into.Length;
        if (left.Length != length || right.Length != length)
        {
            throw new ArgumentException("pages of different lengths");
        }

        int at = 0;
        if (Vector.IsHardwareAccelerated)
        {
            ReadOnlySpan<Vector<byte>> l = MemoryMarshal.Cast<byte, Vector<byte>>(left);
            ReadOnlySpan<Vector<byte>> r = MemoryMarshal.Cast<byte, Vector<byte>>(right);
            Span<Vector<byte>> o = MemoryMarshal.Cast<byte, Vector<byte>>(into);
            for (int i = 0; i < o.Length; i++)
            {
                o[i] = l[i] ^ r[i];
            }

            at = o.Length * Vector<byte>.Count;
        }

        for (; at < length; at++)
        {
            into[at] = (byte)(left[at] ^ right[at]);
        }
    }
}
