using System.IO.Hashing;

namespace Replicator.Core.Blocks;

/// <summary>
/// Online verify's unit: the image in blocks of <see cref="BlockBytes"/>, each summarised by its
/// XxHash128. A <see cref="BlockOp.Verify"/> record carries the hashes of the blocks of its range
/// as the primary's disk held them at the record's place in the sequence; the secondary hashes
/// the same blocks of its image at the same place and compares.
/// </summary>
public static class VerifyBlocks
{
    public const int BlockBytes = 64 * 1024;

    public const int HashBytes = 16;

    /// <summary>The payload of a verify record over <paramref name="length"/> bytes: one hash per block, the last block possibly short.</summary>
    /// <remarks>Total over any length off the wire: none or a negative one carries no hashes (and is refused for its length).</remarks>
    public static int PayloadLength(int length) => length <= 0 ? 0 : (int)((length + (long)BlockBytes - 1) / BlockBytes * HashBytes);

    /// <summary>Writes the hash of each block of <paramref name="data"/> into <paramref name="hashes"/>.</summary>
    public static void Hash(ReadOnlySpan<byte> data, Span<byte> hashes)
    {
        if (hashes.Length != PayloadLength(data.Length))
        {
            throw new ArgumentException($"{data.Length} bytes take {PayloadLength(data.Length)} bytes of hashes", nameof(hashes));
        }

        for (int block = 0, at = 0; at < data.Length; block++, at += BlockBytes)
        {
            XxHash128.Hash(data.Slice(at, Math.Min(BlockBytes, data.Length - at)), hashes.Slice(block * HashBytes, HashBytes));
        }
    }

    /// <summary>
    /// The blocks of <paramref name="data"/> (read at <paramref name="offset"/>) whose hash differs
    /// from <paramref name="expected"/>, as byte offsets into the image, added to <paramref name="diverged"/>.
    /// </summary>
    public static void Compare(long offset, ReadOnlySpan<byte> data, ReadOnlySpan<byte> expected, ICollection<long> diverged)
    {
        ArgumentNullException.ThrowIfNull(diverged);
        Span<byte> actual = stackalloc byte[HashBytes];
        for (int block = 0, at = 0; at < data.Length; block++, at += BlockBytes)
        {
            XxHash128.Hash(data.Slice(at, Math.Min(BlockBytes, data.Length - at)), actual);
            if (!actual.SequenceEqual(expected.Slice(block * HashBytes, HashBytes)))
            {
                diverged.Add(offset + at);
            }
        }
    }
}
