using Replicator.Core.Secondary;
using Replicator.Hosts.Storage;
using Replicator.InMemory;
using Replicator.Sim.Storage;

namespace Replicator.Sim.Tests.Journal;

/// <summary>
/// The journal's two files: appends move to the other file once the current one passes the switch
/// size and everything in the other is applied, so nothing is ever copied and both files are
/// overwritten in place; recovery reads both, and keeps every unapplied entry through a power cut
/// at any point; an epoch missing between the files is damage, never a torn append.
/// </summary>
public class JournalFileSwitchTests
{
    private readonly JournalFixture _journal = new();

    [Fact]
    public void Appends_move_to_the_other_file_only_once_the_current_one_is_past_the_switch_size_and_the_other_is_applied()
    {
        (MemoryStorageDirectory directory, _) = _journal.NewDirectory();
        List<EpochLog> epochs = JournalFixture.SealedEpochs(6);
        long entry = EntrySize();
        EpochJournal journal = JournalFixture.Open(directory, out _, switchAboveBytes: 2 * entry);
        journal.Append(epochs[0]);
        journal.Append(epochs[1]);
        journal.Append(epochs[2]); // journal.bin holds two entries: on to a new second file
        journal.Append(epochs[3]);
        journal.Append(epochs[4]); // past the size too, but journal.bin still holds unapplied epochs

        Assert.Equal(1, journal.Switches);
        Assert.Equal(
            [(1L, EpochJournal.FileName, 0L), (2, EpochJournal.FileName, entry), (3, EpochJournal.SecondFileName, 0), (4, EpochJournal.SecondFileName, entry), (5, EpochJournal.SecondFileName, 2 * entry)],
            journal.EntriesHeld().Select(e => (e.Epoch, e.File, e.Offset)));

        journal.Release(2);
        journal.Append(epochs[5]); // journal.bin is applied: back to its front, over its old blocks
        Assert.Equal(2, journal.Switches);
        Assert.Equal((6L, EpochJournal.FileName, 0L), journal.EntriesHeld().Select(e => (e.Epoch, e.File, e.Offset)).Last());
        Assert.Equal(2 * entry, directory.Peek(EpochJournal.FileName)!.Size);
        journal.Dispose();

        using EpochJournal reopened = JournalFixture.Open(directory, out List<JournalEntry> entries, appliedEpoch: 2);
        Assert.Equal([3L, 4, 5, 6], entries.Select(e => e.Checkpoint.Epoch).Where(e => e > 2));
        Assert.Equal(EpochJournal.FileName, reopened.EntriesHeld()[^1].File);
    }

    [Fact]
    public void Under_a_write_back_that_lags_both_files_keep_their_size()
    {
        (MemoryStorageDirectory directory, _) = _journal.NewDirectory();
        List<EpochLog> epochs = JournalFixture.SealedEpochs(60);
        long entry = EntrySize();
        using EpochJournal journal = JournalFixture.Open(directory, out _, switchAboveBytes: 3 * entry);
        for (int i = 0; i < epochs.Count; i++)
        {
            journal.Append(epochs[i]);
            journal.Release(i - 2); // the write-back two epochs behind: something is always unapplied
        }

        Assert.True(journal.Switches >= 10, $"{journal.Switches} switches");
        Assert.InRange(directory.Peek(EpochJournal.FileName)!.Size, 0, 6 * entry);
        Assert.InRange(directory.Peek(EpochJournal.SecondFileName)!.Size, 0, 6 * entry);
    }

    [Fact]
    public void A_power_cut_at_any_storage_call_around_a_switch_keeps_every_unapplied_entry()
    {
        List<EpochLog> epochs = JournalFixture.SealedEpochs(8);
        long entry = EntrySize();
        for (int cutAt = 1; cutAt <= 24; cutAt++)
        {
            for (int seed = 0; seed < 4; seed++)
            {
                (MemoryStorageDirectory directory, SimPowerSwitch power) = _journal.NewDirectory();
                EpochJournal journal = JournalFixture.Open(directory, out _, switchAboveBytes: 2 * entry);
                long applied = 0;
                int appended = 0;
                power.ArmAfter(cutAt);
                try
                {
                    for (int i = 0; i < epochs.Count; i++)
                    {
                        journal.Append(epochs[i]);
                        appended = i + 1;
                        if (i % 3 == 2)
                        {
                            applied = i - 1; // the state record says so before the journal is told
                            journal.Release(applied);
                        }
                    }
                }
                catch (SimPowerCutException)
                {
                }

                power.TurnOff();
                directory.PowerCut(new Random(seed));
                power.TurnOn();
                power.Disarm();
                JournalFixture.Open(directory, out List<JournalEntry> entries, appliedEpoch: applied).Dispose();

                long[] unapplied = entries.Select(e => e.Checkpoint.Epoch).Where(e => e > applied).ToArray();
                string what = $"cut at call {cutAt}, seed {seed}: {appended} appended, {applied} applied, recovered [{string.Join(",", unapplied)}]";
                // Every append that returned is there, in order; the one cut short may or may not be.
                long[] durable = Enumerable.Range((int)applied + 1, appended - (int)applied).Select(e => (long)e).ToArray();
                Assert.True(unapplied.SequenceEqual(durable) || unapplied.SequenceEqual([.. durable, appended + 1]), what);
            }
        }
    }

    [Fact]
    public void Releasing_everything_starts_the_current_file_again_from_the_front_without_a_switch()
    {
        (MemoryStorageDirectory directory, _) = _journal.NewDirectory();
        List<EpochLog> epochs = JournalFixture.SealedEpochs(3);
        using EpochJournal journal = JournalFixture.Open(directory, out _);
        journal.Append(epochs[0]);
        journal.Append(epochs[1]);

        journal.Release(2);
        journal.Append(epochs[2]);

        Assert.Equal(0, journal.Switches);
        Assert.Equal([new JournalEntryLocation(3, EpochJournal.FileName, 0, (int)journal.Length)], journal.EntriesHeld());
        Assert.Null(directory.Peek(EpochJournal.SecondFileName));
    }

    [Theory]
    [InlineData(JournalDamagePolicy.Refuse)]
    [InlineData(JournalDamagePolicy.KeepAsEvidence)]
    public void An_epoch_missing_between_the_files_is_damage_naming_both_and_where_it_is(JournalDamagePolicy policy)
    {
        (MemoryStorageDirectory directory, _) = _journal.NewDirectory();
        List<EpochLog> epochs = JournalFixture.SealedEpochs(3);
        long entry = EntrySize();
        EpochJournal journal = JournalFixture.Open(directory, out _, switchAboveBytes: 2 * entry);
        foreach (EpochLog epoch in epochs)
        {
            journal.Append(epoch);
        }

        journal.Dispose();
        // Epoch 2, the last entry of the older file, is damaged: on its own that file looks like
        // one with a torn tail, but epoch 3 in the other file shows epoch 2 was committed.
        JournalFixture.Flip(directory.Peek(EpochJournal.FileName)!, entry + 40);
        byte[] before = directory.Peek(EpochJournal.FileName)!.Contents.ToArray();

        if (policy == JournalDamagePolicy.Refuse)
        {
            var refused = Assert.Throws<InvalidDataException>(() => JournalFixture.Open(directory, out _, policy: policy));
            Assert.Contains(EpochJournal.FileName, refused.Message, StringComparison.Ordinal);
            Assert.Contains(EpochJournal.SecondFileName, refused.Message, StringComparison.Ordinal);
            Assert.Contains("epochs 2 to 2", refused.Message, StringComparison.Ordinal);
            Assert.Contains($"journal state/{EpochJournal.FileName} is damaged: the entry at byte {entry} cannot be read", refused.Message, StringComparison.Ordinal);
        }
        else
        {
            using EpochJournal evidence = JournalFixture.Open(directory, out List<JournalEntry> entries, policy: policy);
            Assert.Equal([1L], entries.Select(e => e.Checkpoint.Epoch));
            Assert.Equal(1, evidence.Damage!.LastVerifiableEpoch);
        }

        Assert.Equal(before, directory.Peek(EpochJournal.FileName)!.Contents.ToArray());
    }

    private static long EntrySize()
    {
        var directory = new MemoryStorageDirectory();
        using EpochJournal journal = JournalFixture.Open(directory, out _);
        journal.Append(JournalFixture.SealedEpochs(1)[0]);
        return journal.Length;
    }
}
