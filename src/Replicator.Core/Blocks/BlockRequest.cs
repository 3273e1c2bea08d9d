namespace Replicator.Core.Blocks;

/// <summary>
/// One guest block request: its operation, byte range and FUA flag. Offsets and lengths are in
/// bytes and sector aligned (see <see cref="BlockGeometry"/>); a flush has an empty range.
/// </summary>
public readonly record struct BlockRequest(BlockOp Op, long Offset, int Length, bool Fua = false)
{
    public static BlockRequest Write(long offset, int length, bool fua = false) => new(BlockOp.Write, offset, length, fua);

    public static BlockRequest Zeroes(long offset, int length, bool fua = false) => new(BlockOp.WriteZeroes, offset, length, fua);

    public static BlockRequest Trim(long offset, int length) => new(BlockOp.Trim, offset, length);

    public static BlockRequest Flush() => new(BlockOp.Flush, 0, 0);

    public long End => Offset + Length;

    /// <summary>True for requests that change the image's contents.</summary>
    public bool ChangesData => Op is BlockOp.Write or BlockOp.WriteZeroes or BlockOp.Trim;

    /// <summary>True when this request orders the ones around it on the replica (flush, or a FUA write).</summary>
    public bool IsBarrier => Op == BlockOp.Flush || (Fua && ChangesData);

    /// <summary>The number of payload bytes that travel with the request.</summary>
    public int PayloadLength => Op switch
    {
        BlockOp.Write => Length,
        BlockOp.Verify => VerifyBlocks.PayloadLength(Length),
        _ => 0,
    };

    public bool Overlaps(in BlockRequest other) =>
        ChangesData && other.ChangesData && Offset < other.End && other.Offset < End;
}
