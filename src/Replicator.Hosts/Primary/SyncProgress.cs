using System.Globalization;

namespace Replicator.Hosts.Primary;

/// <summary>
/// How far the latest sync (a resync of changed regions, or a whole-image copy) has come: what the
/// status shows and an operator watches. <see cref="CopiedBytes"/> counts what has been read from
/// the primary's disk and sent; the sync completes when the epoch holding the last of it is
/// acknowledged. The rate is the average since the sync began; the time left assumes it holds.
/// </summary>
public sealed record SyncProgress(bool WholeImage, long TotalBytes, long CopiedBytes, TimeSpan Elapsed, bool Completed)
{
    /// <summary>Of <see cref="CopiedBytes"/>, what a sync with checksums found equal and did not copy.</summary>
    public long FoundEqualBytes { get; init; }

    public double BytesPerSecond => Elapsed > TimeSpan.Zero ? CopiedBytes / Elapsed.TotalSeconds : 0;

    /// <summary>The time left at the rate so far, or null before anything was copied.</summary>
    public TimeSpan? Remaining => BytesPerSecond > 0 ? TimeSpan.FromSeconds((TotalBytes - CopiedBytes) / BytesPerSecond) : null;

    public double Fraction => TotalBytes > 0 ? (double)CopiedBytes / TotalBytes : 1;

    /// <summary>One line for an operator: "full sync 45% (483 of 1,073 MB), 210.3 MB/s, about 3 s left".</summary>
    public string Describe()
    {
        string kind = WholeImage ? "full sync" : "resync";
        return Completed
            ? string.Create(CultureInfo.InvariantCulture, $"{kind} complete: {TotalBytes:N0} bytes in {Elapsed.TotalSeconds:F1} s ({BytesPerSecond / 1e6:F1} MB/s)")
            : string.Create(CultureInfo.InvariantCulture, $"{kind} {Fraction:P0} ({CopiedBytes / 1e6:N0} of {TotalBytes / 1e6:N0} MB), {BytesPerSecond / 1e6:F1} MB/s{(Remaining is { } left ? $", about {left.TotalSeconds:F0} s left" : string.Empty)}");
    }
}
