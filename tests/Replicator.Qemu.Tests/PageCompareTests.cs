using Replicator.Qemu.Ram;

namespace Replicator.Qemu.Tests;

public sealed class PageCompareTests
{
    // Lengths around every vector width and its 4-vector step, and pages of 4 KiB.
    public static TheoryData<VectorWidth, int> Cases()
    {
        var data = new TheoryData<VectorWidth, int>();
        foreach (VectorWidth width in Enum.GetValues<VectorWidth>().Where(PageCompare.IsSupported))
        {
            foreach (int length in new[] { 1, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 1000, 4095, 4096, 4097 })
            {
                data.Add(width, length);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Equal_ranges_are_equal(VectorWidth width, int length)
    {
        byte[] a = Filled(length, seed: length);
        Assert.True(PageCompare.Equal(a, a.ToArray(), width));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_difference_in_the_first_byte_is_found(VectorWidth width, int length)
    {
        byte[] a = Filled(length, seed: length);
        byte[] b = a.ToArray();
        b[0] ^= 0x01;
        Assert.False(PageCompare.Equal(a, b, width));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_difference_in_the_last_byte_is_found(VectorWidth width, int length)
    {
        byte[] a = Filled(length, seed: length);
        byte[] b = a.ToArray();
        b[^1] ^= 0x80;
        Assert.False(PageCompare.Equal(a, b, width));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_difference_at_any_single_byte_is_found(VectorWidth width, int length)
    {
        byte[] a = Filled(length, seed: 7);
        byte[] b = a.ToArray();
        for (int i = 0; i < length; i++)
        {
            b[i] ^= 0xff;
            Assert.False(PageCompare.Equal(a, b, width), $"difference at byte {i} of {length} missed at {width}");
            b[i] ^= 0xff;
        }

        Assert.True(PageCompare.Equal(a, b, width));
    }

    [Fact]
    public void Empty_ranges_are_equal_and_ranges_of_different_lengths_are_not()
    {
        Assert.True(PageCompare.Equal([], [], PageCompare.Best));
        Assert.False(PageCompare.Equal(new byte[64], new byte[65], PageCompare.Best));
    }

    [Fact]
    public void A_width_this_machine_does_not_accelerate_is_refused()
    {
        if (PageCompare.Best == VectorWidth.Vector512)
        {
            return; // every width is supported here; nothing to refuse
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => PageCompare.Equal(new byte[64], new byte[64], VectorWidth.Vector512));
    }

    private static byte[] Filled(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
