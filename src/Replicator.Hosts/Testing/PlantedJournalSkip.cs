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
        while (FindDamage(directory, appliedEpoch, salt) is { } damage)
        {
            CutOut(directory, damage.Journal, damage.Offset, damage.NextOffset);
        }

        return EpochJournal.Open(directory, out entries, appliedEpoch, salt, switchAboveBytes, damagePolicy);
    }

    private static JournalDamage? FindDamage(IStorageDirectory directory, long appliedEpoch, long salt)
    {
        using EpochJournal evidence = EpochJournal.Open(directory, out _, appliedEpoch, salt, damagePolicy: JournalDamagePolicy.KeepAsEvidence);
        return evidence.Damage;
    }

    private static void CutOut(IStorageDirectory directory, string journal, long from, long to)
    {
        string name = EpochJournal.FileNames.First(n => directory.Exists(n) && directory.Describe(n) == journal);
        using IBlockDevice file = directory.Open(name);
        byte[] rest = new byte[file.Size - to];
        file.Read(to, rest);
        file.Write(from, rest);
        file.SetSize(from + rest.Length);
        file.Flush();
    }
}
