using Replicator.Core.Storage;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Storage;

/// <summary>
/// A former primary's dirty log, read (never written) when the node comes back as a secondary: the
/// regions its image may hold that its old secondary — now its primary — never committed. Kept as it
/// is until a sync from the new primary completes, so a restart meanwhile reads the same again.
/// </summary>
public static class FormerPrimaryLog
{
    /// <summary>
    /// What the log in <paramref name="directory"/> says, as the welcome carries it. A log that is
    /// missing, not the one the state record names (<paramref name="trustedLogId"/>) or of another
    /// image gives <see cref="FormerPrimaryWrites.Unknown"/> (a whole-image sync then); a damaged one
    /// throws <see cref="InvalidDataException"/> naming the file, and nothing is changed.
    /// </summary>
    public static FormerPrimaryWrites Read(IStorageDirectory directory, ulong trustedLogId, long imageBytes, int maxRanges)
    {
        ArgumentNullException.ThrowIfNull(directory);
        using DirtyLogFile? file = DirtyLogFile.Open(directory);
        if (file is null)
        {
            return FormerPrimaryWrites.Unknown("it kept no dirty log (--activity-log-extents 0, or it was moved away)");
        }

        DirtyLogContents contents = file.Load();
        if (contents.WhyNotTrusted(trustedLogId, expected: null, imageBytes) is { } untrusted)
        {
            return FormerPrimaryWrites.Unknown(untrusted);
        }

        DirtyLogHeader header = contents.Header!;
        if (header.AcknowledgedGeneration == 0)
        {
            return FormerPrimaryWrites.Unknown("its dirty log names no secondary it was kept against (its secondary never held its data)");
        }

        int regionBytes = header.Geometry.RegionBytes;
        IEnumerable<(long Offset, long Length)> ranges = contents.RegionsThatMayDiffer().Select(region => (region * regionBytes, Math.Min(regionBytes, imageBytes - (region * regionBytes))));
        return FormerPrimaryWrites.From((long)header.AcknowledgedGeneration, header.AcknowledgedEpoch, ranges, imageBytes, maxRanges);
    }
}
