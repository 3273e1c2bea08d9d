namespace Replicator.Protocol.Pages;

/// <summary>
/// How a link carries pages: the encoding and the cache both ends keep for it. The primary's hello
/// offers its terms; the secondary's welcome answers with the terms the link uses (<see cref="Agree"/>),
/// which the primary checks (<see cref="ProblemAsAnswerTo"/>) before it encodes anything.
/// </summary>
public readonly record struct PageTerms(PageEncoding Encoding, long CacheBytes)
{
    /// <summary>The page cache a node keeps for its link unless told otherwise: 64 MiB, 16,384 pages.</summary>
    public const long DefaultCacheBytes = 64L << 20;

    /// <summary>What a node offers and accepts unless told otherwise: differences as zero runs, against the default cache.</summary>
    public static PageTerms Default => new(PageEncoding.ZeroRuns, DefaultCacheBytes);

    /// <summary>Pages as they are, nothing cached.</summary>
    public static PageTerms Whole => new(PageEncoding.None, 0);

    public bool Encodes => Encoding != PageEncoding.None;

    /// <summary>
    /// What the link uses, from the primary's <paramref name="offered"/> terms and the secondary's
    /// <paramref name="local"/> ones: the primary's encoding unless the secondary takes none (or does
    /// not know it), and the smaller cache — the secondary's memory is its own to bound.
    /// </summary>
    public static PageTerms Agree(PageTerms offered, PageTerms local)
    {
        if (!local.Encodes || !IsKnown(offered.Encoding) || offered.Encoding == PageEncoding.None)
        {
            return Whole;
        }

        return new PageTerms(offered.Encoding, Math.Clamp(Math.Min(offered.CacheBytes, local.CacheBytes), 0, long.MaxValue));
    }

    /// <summary>Why these terms, a secondary's answer, cannot be what it agreed to from <paramref name="offered"/>; null when they can.</summary>
    public string? ProblemAsAnswerTo(PageTerms offered)
    {
        if (Encoding != PageEncoding.None && Encoding != offered.Encoding)
        {
            return $"it answered pages encoded as {Encoding}, which the hello did not offer ({offered.Encoding})";
        }

        if (CacheBytes < 0 || CacheBytes > (Encodes ? offered.CacheBytes : 0))
        {
            return $"it answered a page cache of {CacheBytes} bytes, where the hello offered {(Encodes ? offered.CacheBytes : 0)} at most";
        }

        return null;
    }

    private static bool IsKnown(PageEncoding encoding) => encoding is PageEncoding.None or PageEncoding.ZeroRuns or PageEncoding.Lz4;
}
