using Replicator.Hosts.Storage;
using Replicator.InMemory;

namespace Replicator.Sim.Tests.Journal;

/// <summary>
/// A journal opened as evidence (a forced failover, a promoted node) is read up to what it cannot
/// verify, says what that is, and is never written: no append, no cut tail, no compaction.
/// </summary>
public class JournalEvidenceTests
{
    private readonly JournalFixture _journal = new();

    [Fact]
    public void Damage_is_read_up_to_recorded_with_the_epochs_at_stake_and_the_file_left_as_it_was()
    {
        (MemoryStorageDirectory directory, long[] offsets) = _journal.Entries(4);
        MemoryDisk file = JournalFixture.File(directory);
        JournalFixture.Flip(file, offsets[1] + 20);
        byte[] before = file.Contents.ToArray();

        using EpochJournal journal = JournalFixture.Open(directory, out List<JournalEntry> entries, policy: JournalDamagePolicy.KeepAsEvidence);

        Assert.True(journal.KeptAsEvidence);
        Assert.Equal([1], entries.Select(e => e.Checkpoint.Epoch));
        Assert.Equal(new JournalDamage($"state/{EpochJournal.FileName}", offsets[1], "format version 251, not 4", 3, offsets[2], 1), journal.Damage);
        Assert.Equal(before, file.Contents.ToArray());
    }

    [Fact]
    public void A_torn_tail_is_left_in_place()
    {
        (MemoryStorageDirectory directory, long[] offsets) = _journal.Entries(3);
        MemoryDisk file = JournalFixture.File(directory);
        JournalFixture.Flip(file, file.Size - 5);
        byte[] before = file.Contents.ToArray();

        using EpochJournal journal = JournalFixture.Open(directory, out List<JournalEntry> entries, policy: JournalDamagePolicy.KeepAsEvidence);

        Assert.Equal([1, 2], entries.Select(e => e.Checkpoint.Epoch));
        Assert.Null(journal.Damage);
        Assert.Equal(offsets[2], journal.Length);
        Assert.Equal(before, file.Contents.ToArray());
    }

    [Fact]
    public void It_is_never_appended_to_released_into_a_compaction_or_reused_from_the_front()
    {
        (MemoryStorageDirectory directory, _) = _journal.Entries(4);
        MemoryDisk file = JournalFixture.File(directory);
        byte[] before = file.Contents.ToArray();
        using EpochJournal journal = JournalFixture.Open(directory, out _, switchAboveBytes: 1, policy: JournalDamagePolicy.KeepAsEvidence);
        long length = journal.Length;

        var refused = Assert.Throws<InvalidOperationException>(() => journal.Append(JournalFixture.SealedEpochs(5)[4]));
        journal.Release(3);
        Assert.Equal(length, journal.Length);
        journal.Release(4);

        Assert.Contains($"journal state/{EpochJournal.FileName} is kept as evidence and is never appended to", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, journal.Switches);
        Assert.Equal(length, journal.Length);
        Assert.Empty(journal.EntriesHeld());
        Assert.Equal(before, file.Contents.ToArray());
        Assert.Null(directory.Peek(EpochJournal.FileName + ".compact"));
    }
}
