namespace Replicator.Fuzz.Tests.Infrastructure;

/// <summary>
/// A bitwise CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), written from the definition:
/// the oracle the harnesses check frames against, independent of the code under test.
/// </summary>
internal static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second = default)
    {
        uint crc = 0xFFFFFFFF;
        crc = Append(crc, first);
        crc = Append(crc, second);
        return ~crc;
    }

    private static uint Append(uint crc, ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int bit = 0; bit < 8; bit++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78 : crc >> 1;
            }
        }

        return crc;
    }
}
