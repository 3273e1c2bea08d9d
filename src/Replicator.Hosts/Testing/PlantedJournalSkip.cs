using Replicator.Core.Storage;
using Replicator.Hosts.Storage;

namespace Replicator.Hosts.Testing;

/// <summary>
/// The planted defect <see cref="Core.Testing.PlantedBug.JournalSkipBadEntry"/>, kept out of the
/// journal's own code: before the journal is opened, every stretch it cannot verify is cut out of
/// the file up to the whole entry that follows, so recovery trusts and replays what lay behind the
/// damage as if nothing were missing. The simulator's checkers must catch the epochs this loses.
/// </summary>
public static class PlantedJournalSkip
{
    public static EpochJournal Open(IStorageDirectory directory, out List<JournalEntry> entries, long appliedEpoch, long salt, long switchAboveBytes, JournalDamagePolicy damagePolicy)
    {
        ArgumentNullException.ThrowIfNull(directory);
        JournalDamage? cut = null;
        while (FindDamage(directory, appliedEpoch, salt) is { } damage)
        {
            if (damage == cut)
            {
                // Cutting changed nothing the journal sees (a gap it finds between its two files):
                // this damage cannot be hidden, and the journal is opened to meet it as it is.
                break;
            }

            CutOut(directory, damage);
            cut = damage;
        }

        return EpochJournal.Open(directory, out entries, appliedEpoch, salt, switchAboveBytes, damagePolicy);
    }

    private static JournalDamage? FindDamage(IStorageDirectory directory, long appliedEpoch, long salt)
    {
        using EpochJournal evidence = EpochJournal.Open(directory, out _, appliedEpoch, salt, damagePolicy: JournalDamagePolicy.KeepAsEvidence);
        return evidence.Damage;
    }

    /// <summary>
    /// Cuts the stretch that cannot be verified out of its file: up to the whole entry behind it, or,
    /// when that entry begins the other file, to this file's end.
    /// </summary>
    private static void CutOut(IStorageDirectory directory, JournalDamage damage)
    {
        string name = EpochJournal.FileNames.First(n => directory.Exists(n) && directory.Describe(n) == damage.Journal);
        using IBlockDevice file = directory.Open(name);
        long to = damage.NextJournal is null ? Math.Min(damage.NextOffset, file.Size) : file.Size;
        long from = Math.Min(damage.Offset, to);
        byte[] rest = new byte[file.Size - to];
        file.Read(to, rest);
        file.Write(from, rest);
        file.SetSize(from + rest.Length);
        file.Flush();
    }
}
