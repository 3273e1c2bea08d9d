using Replicator.Protocol.Pages;

namespace Replicator.Protocol.Tests.Pages;

public class ZeroRunCodecTests
{
    public static TheoryData<string> Shapes => new() { "zeros", "noise", "sparse", "short-gaps", "tail-zeros", "one-byte" };

    private static byte[] Shape(string shape, int seed)
    {
        var random = new Random(seed);
        byte[] bytes = new byte[shape == "one-byte" ? 1 : 4096];
        switch (shape)
        {
            case "noise":
                random.NextBytes(bytes);
                bytes.AsSpan().Replace((byte)0, (byte)1);
                break;
            case "sparse":
                for (int i = 0; i < 20; i++)
                {
                    random.NextBytes(bytes.AsSpan(random.Next(bytes.Length - 8), random.Next(1, 8)));
                }

                break;
            case "short-gaps":
                // Runs of 1 and 2 zeros between bytes: too short to be runs of their own.
                for (int i = 0; i < bytes.Length; i += 1 + random.Next(1, 3))
                {
                    bytes[i] = (byte)random.Next(1, 256);
                }

                break;
            case "tail-zeros":
                random.NextBytes(bytes.AsSpan(0, 100));
                break;
            case "one-byte":
                bytes[0] = 7;
                break;
        }

        return bytes;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Bytes_decode_to_exactly_what_was_encoded(string shape)
    {
        for (int seed = 0; seed < 20; seed++)
        {
            byte[] source = Shape(shape, seed);
            byte[] encoded = new byte[source.Length * 2 + 16];

            int length = ZeroRunCodec.Encode(source, encoded);
            byte[] decoded = new byte[source.Length];

            Assert.True(length >= 0);
            Assert.True(ZeroRunCodec.TryDecode(encoded.AsSpan(0, length), decoded));
            Assert.Equal(source, decoded);
        }
    }

    [Fact]
    public void A_page_of_zeros_is_three_bytes_and_a_page_changed_in_eight_bytes_fourteen()
    {
        byte[] page = new byte[4096];
        byte[] encoded = new byte[4096];
        Assert.Equal(3, ZeroRunCodec.Encode(page, encoded));

        BitConverter.TryWriteBytes(page.AsSpan(1000), 0x0102030405060708L);
        Assert.Equal(14, ZeroRunCodec.Encode(page, encoded)); // (1000, 8) in 3 bytes + the 8 bytes, then (3088, 0) in 3
    }

    [Fact]
    public void Encoding_that_would_not_fit_returns_minus_one()
    {
        byte[] source = Shape("noise", 1);

        Assert.Equal(-1, ZeroRunCodec.Encode(source, new byte[source.Length]));
    }

    [Theory]
    [InlineData(new byte[] { 0x80 })] // a number cut short
    [InlineData(new byte[] { 0x05 })] // a run with no literal length
    [InlineData(new byte[] { 0x09, 0x00 })] // more zeros than the target holds
    [InlineData(new byte[] { 0x00, 0x09, 1, 2, 3 })] // a literal longer than its bytes
    [InlineData(new byte[] { 0x04, 0x00 })] // falls short of the target's 8 bytes
    [InlineData(new byte[] { 0x08, 0x00, 0x00, 0x01, 7 })] // bytes past the target's end
    [InlineData(new byte[] { 0x80, 0x80, 0x80, 0x80, 0x01, 0x00 })] // a number of more than four bytes
    public void Malformed_input_is_refused(byte[] encoded) =>
        Assert.False(ZeroRunCodec.TryDecode(encoded, new byte[8]));
}
