using System.Numerics;

namespace Replicator.Hosts.Tests.Support;

/// <summary>
/// CRC-32C (Castagnoli) the textbook way, byte by byte: what the on-disk formats' documentation
/// promises, computed independently of the hashing library the product uses.
/// </summary>
internal static class TextbookCrc32C
{
    public static uint Compute(ReadOnlySpan<byte> bytes)
    {
        uint crc = uint.MaxValue;
        foreach (byte b in bytes)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return ~crc;
    }
}
