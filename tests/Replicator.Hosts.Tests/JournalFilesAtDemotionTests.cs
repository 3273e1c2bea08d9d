using Replicator.Hosts.Storage;
using Replicator.InMemory;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Tests;

/// <summary>A former primary coming back as a secondary keeps both of its old journal's files aside: neither is ever replayed over the new primary's stream.</summary>
public class JournalFilesAtDemotionTests
{
    [Fact]
    public void Both_journal_files_of_an_earlier_life_are_kept_aside_unchanged_and_the_new_journal_starts_empty()
    {
        var directory = new MemoryStorageDirectory("state");
        new NodeStateStore(directory).Save(new NodeState { PairId = "pair-1", Role = NodeRole.Primary, PrimaryByPromotion = false, JournalSalt = 7 });
        foreach (string file in EpochJournal.FileNames)
        {
            using var device = directory.Create(file, 0);
            device.Write(0, System.Text.Encoding.ASCII.GetBytes($"old {file}"));
            device.Flush();
        }

        using SecondaryStore store = SecondaryStore.Open(new MemoryBlockDevice("disk.img", new MemoryDisk(1 << 20)), directory, "pair-1", 4 * 4096, 4096);

        Assert.Equal("old journal.bin", System.Text.Encoding.ASCII.GetString(directory.Peek(SecondaryStore.JournalBeforeDemotionName)!.Contents));
        Assert.Equal("old journal.1.bin", System.Text.Encoding.ASCII.GetString(directory.Peek(SecondaryStore.BeforeDemotionName(EpochJournal.SecondFileName))!.Contents));
        Assert.Equal("journal.1.before-demotion.bin", SecondaryStore.BeforeDemotionName(EpochJournal.SecondFileName));
        Assert.False(directory.Exists(EpochJournal.SecondFileName));
        Assert.Equal(0, directory.Peek(EpochJournal.FileName)!.Size);
        Assert.Empty(store.Unapplied);
    }
}
