namespace Replicator.Core.Blocks;

/// <summary>What a guest block request does.</summary>
public enum BlockOp : byte
{
    /// <summary>Writes the request's payload.</summary>
    Write = 1,

    /// <summary>Makes the range read as zeroes; carries no payload.</summary>
    WriteZeroes = 2,

    /// <summary>Discards the range. The replica models it as zeroes, as a punched hole reads.</summary>
    Trim = 3,

    /// <summary>Makes every write completed before it durable: an ordering barrier.</summary>
    Flush = 4,

    /// <summary>
    /// A sequence number whose request failed on the primary's own disk. It is mirrored so the
    /// secondary sees no gap, and applies nothing: a failed write leaves its range undefined.
    /// </summary>
    Skipped = 5,

    /// <summary>
    /// Online verify: changes nothing. Its payload is the hash of each block of the range as the
    /// primary's disk held it at this place in the sequence (<see cref="VerifyBlocks"/>); the
    /// secondary compares its own image there. Never a guest request.
    /// </summary>
    Verify = 6,
}
