using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Replicator.Qemu.Ram;

/// <summary>
/// Whether two byte ranges are equal, at the widest vector width the CPU accelerates. Each width
/// compares four vectors per step (XOR, OR, one test), so a 4 KiB page costs 16 steps at 512 bits,
/// and ends with one last vector that overlaps the previous ones when the length is not a multiple
/// of the width. Most pages of a guest do not change between checkpoints, so the equal case is the
/// one to make fast: no early exit inside a step, one branch per 256 bytes at 512 bits.
/// The compare methods are compiled fully optimised from their first call: the first checkpoint
/// compares every page of the guest, and unoptimised vector code there would cost it many times over.
/// </summary>
public static class PageCompare
{
    /// <summary>The widest width this machine runs in hardware.</summary>
    public static VectorWidth Best { get; } =
        Vector512.IsHardwareAccelerated ? VectorWidth.Vector512
        : Vector256.IsHardwareAccelerated ? VectorWidth.Vector256
        : Vector128.IsHardwareAccelerated ? VectorWidth.Vector128
        : VectorWidth.Scalar;

    /// <summary>Whether <paramref name="width"/> runs in hardware here (a narrower one always may be asked for).</summary>
    public static bool IsSupported(VectorWidth width) => width <= Best;

    public static bool Equal(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => Equal(a, b, Best);

    public static bool Equal(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, VectorWidth width)
    {
        if (a.Length != b.Length)
        {
            return false;
        }

        return Equal(ref Unsafe.AsRef(in a.GetPinnableReference()), ref Unsafe.AsRef(in b.GetPinnableReference()), (nuint)a.Length, width);
    }

    /// <summary>Whether <paramref name="length"/> bytes at <paramref name="a"/> and <paramref name="b"/> are equal.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool Equal(ref byte a, ref byte b, nuint length, VectorWidth width)
    {
        if (width > Best)
        {
            throw new ArgumentOutOfRangeException(nameof(width), width, $"this CPU accelerates at most {Best}");
        }

        // Each width needs at least one whole vector; shorter ranges drop to the next width down.
        if (width == VectorWidth.Vector512 && length >= (nuint)Vector512<byte>.Count)
        {
            return Equal512(ref a, ref b, length);
        }

        if (width >= VectorWidth.Vector256 && length >= (nuint)Vector256<byte>.Count)
        {
            return Equal256(ref a, ref b, length);
        }

        if (width >= VectorWidth.Vector128 && length >= (nuint)Vector128<byte>.Count)
        {
            return Equal128(ref a, ref b, length);
        }

        return EqualScalar(ref a, ref b, length);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool Equal512(ref byte a, ref byte b, nuint length)
    {
        nuint width = (nuint)Vector512<byte>.Count;
        nuint i = 0;
        for (; i + (4 * width) <= length; i += 4 * width)
        {
            Vector512<byte> x = (Vector512.LoadUnsafe(ref a, i) ^ Vector512.LoadUnsafe(ref b, i))
                | (Vector512.LoadUnsafe(ref a, i + width) ^ Vector512.LoadUnsafe(ref b, i + width))
                | (Vector512.LoadUnsafe(ref a, i + (2 * width)) ^ Vector512.LoadUnsafe(ref b, i + (2 * width)))
                | (Vector512.LoadUnsafe(ref a, i + (3 * width)) ^ Vector512.LoadUnsafe(ref b, i + (3 * width)));
            if (x != Vector512<byte>.Zero)
            {
                return false;
            }
        }

        for (; i + width <= length; i += width)
        {
            if (Vector512.LoadUnsafe(ref a, i) != Vector512.LoadUnsafe(ref b, i))
            {
                return false;
            }
        }

        // The tail: the last whole vector, overlapping bytes already compared.
        return i == length || Vector512.LoadUnsafe(ref a, length - width) == Vector512.LoadUnsafe(ref b, length - width);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool Equal256(ref byte a, ref byte b, nuint length)
    {
        nuint width = (nuint)Vector256<byte>.Count;
        nuint i = 0;
        for (; i + (4 * width) <= length; i += 4 * width)
        {
            Vector256<byte> x = (Vector256.LoadUnsafe(ref a, i) ^ Vector256.LoadUnsafe(ref b, i))
                | (Vector256.LoadUnsafe(ref a, i + width) ^ Vector256.LoadUnsafe(ref b, i + width))
                | (Vector256.LoadUnsafe(ref a, i + (2 * width)) ^ Vector256.LoadUnsafe(ref b, i + (2 * width)))
                | (Vector256.LoadUnsafe(ref a, i + (3 * width)) ^ Vector256.LoadUnsafe(ref b, i + (3 * width)));
            if (x != Vector256<byte>.Zero)
            {
                return false;
            }
        }

        for (; i + width <= length; i += width)
        {
            if (Vector256.LoadUnsafe(ref a, i) != Vector256.LoadUnsafe(ref b, i))
            {
                return false;
            }
        }

        return i == length || Vector256.LoadUnsafe(ref a, length - width) == Vector256.LoadUnsafe(ref b, length - width);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool Equal128(ref byte a, ref byte b, nuint length)
    {
        nuint width = (nuint)Vector128<byte>.Count;
        nuint i = 0;
        for (; i + (4 * width) <= length; i += 4 * width)
        {
            Vector128<byte> x = (Vector128.LoadUnsafe(ref a, i) ^ Vector128.LoadUnsafe(ref b, i))
                | (Vector128.LoadUnsafe(ref a, i + width) ^ Vector128.LoadUnsafe(ref b, i + width))
                | (Vector128.LoadUnsafe(ref a, i + (2 * width)) ^ Vector128.LoadUnsafe(ref b, i + (2 * width)))
                | (Vector128.LoadUnsafe(ref a, i + (3 * width)) ^ Vector128.LoadUnsafe(ref b, i + (3 * width)));
            if (x != Vector128<byte>.Zero)
            {
                return false;
            }
        }

        for (; i + width <= length; i += width)
        {
            if (Vector128.LoadUnsafe(ref a, i) != Vector128.LoadUnsafe(ref b, i))
            {
                return false;
            }
        }

        return i == length || Vector128.LoadUnsafe(ref a, length - width) == Vector128.LoadUnsafe(ref b, length - width);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool EqualScalar(ref byte a, ref byte b, nuint length)
    {
        nuint i = 0;
        for (; i + sizeof(ulong) <= length; i += sizeof(ulong))
        {
            if (Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref a, i)) != Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref b, i)))
            {
                return false;
            }
        }

        for (; i < length; i++)
        {
            if (Unsafe.Add(ref a, i) != Unsafe.Add(ref b, i))
            {
                return false;
            }
        }

        return true;
    }
}
