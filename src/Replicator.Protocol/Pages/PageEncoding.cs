namespace Replicator.Protocol.Pages;

/// <summary>
/// How a link carries a checkpoint's RAM pages: whole, or each page against the page it replaces
/// where both ends still hold that one (a <see cref="PageCache"/>), and squeezed. The primary offers
/// one in its hello; the secondary's welcome says which the link uses.
/// </summary>
public enum PageEncoding : byte
{
    /// <summary>Every page as it is: the bytes the guest holds.</summary>
    None = 0,

    /// <summary>
    /// A page's difference (XOR) from the cached page it replaces, or the page itself when none is
    /// cached, as runs of zeros and the bytes between them (<see cref="ZeroRunCodec"/>): cheap, and
    /// what a page that changed in a few places shrinks to.
    /// </summary>
    ZeroRuns = 1,

    /// <summary>The same difference, or the page, compressed with LZ4: smaller for pages of text or repeated patterns, at more CPU per page.</summary>
    Lz4 = 2,
}

/// <summary>How one encoded page was written: its first byte on the wire.</summary>
public enum PageForm : byte
{
    /// <summary>The page's bytes follow as they are (nothing smaller was found).</summary>
    Whole = 0,

    /// <summary>The page itself, as zero runs.</summary>
    ZeroRuns = 1,

    /// <summary>The page XOR the cached page of its index, as zero runs.</summary>
    DeltaZeroRuns = 2,

    /// <summary>The page itself, LZ4-compressed.</summary>
    Lz4 = 3,

    /// <summary>The page XOR the cached page of its index, LZ4-compressed.</summary>
    DeltaLz4 = 4,
}
