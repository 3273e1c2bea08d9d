using Replicator.Core.Secondary;
using Replicator.Hosts.Storage;
using Replicator.InMemory;
using Replicator.Sim.Storage;

namespace Replicator.Sim.Tests.Journal;

/// <summary>
/// The journal rewrites itself without its applied entries once they take at least the threshold
/// and half the file, and keeps every unapplied entry through a power cut at any point of that.
/// </summary>
public class JournalCompactionTests
{
    private readonly JournalFixture _journal = new();

    [Theory]
    [InlineData(4, 2, 2, 0, true)] // the applied half, exactly at the threshold
    [InlineData(4, 2, 2, 1, false)] // a byte under the threshold
    [InlineData(4, 3, 0, 1, true)]
    [InlineData(3, 1, 1, 0, false)] // at the threshold, but a third of the file
    [InlineData(5, 1, 0, 1, false)] // a small applied prefix of a file far above the threshold
    [InlineData(5, 2, 2, 0, false)] // two fifths of the file
    public void Applied_entries_are_compacted_away_once_they_take_the_threshold_and_half_the_file(int appended, int released, int thresholdEntries, int thresholdExtraBytes, bool compacts)
    {
        (MemoryStorageDirectory directory, _) = _journal.NewDirectory();
        List<EpochLog> epochs = JournalFixture.SealedEpochs(appended);
        long entrySize = EntrySize();
        EpochJournal journal = JournalFixture.Open(directory, out _, compactAboveBytes: (thresholdEntries * entrySize) + thresholdExtraBytes);
        foreach (EpochLog epoch in epochs)
        {
            journal.Append(epoch);
        }

        (long Epoch, long Offset, int Length)[] before = journal.EntriesHeld();
        Assert.All(before, e => Assert.Equal(entrySize, e.Length));

        journal.Release(released);

        (long Epoch, long Offset, int Length)[] kept = before[released..];
        if (compacts)
        {
            Assert.Equal(1, journal.Compactions);
            Assert.Equal(kept.Select((e, i) => (e.Epoch, i * entrySize, e.Length)), journal.EntriesHeld());
            Assert.Equal(kept.Length * entrySize, journal.Length);
            Assert.Equal(kept.Length * entrySize, JournalFixture.File(directory).Size);
        }
        else
        {
            Assert.Equal(0, journal.Compactions);
            Assert.Equal(kept, journal.EntriesHeld());
            Assert.Equal(appended * entrySize, journal.Length);
        }

        // The old file is closed, not leaked; no work file is left behind.
        Assert.Equal(1, directory.OpenDevices);
        Assert.Null(directory.Peek(EpochJournal.FileName + ".compact"));
        journal.Dispose();
        JournalFixture.Open(directory, out List<JournalEntry> entries).Dispose();
        Assert.Equal(kept.Select(e => e.Epoch), entries.Select(e => e.Checkpoint.Epoch).Where(e => e > released));
    }

    [Fact]
    public void Appends_after_a_compaction_land_in_the_new_file_and_survive_a_power_cut()
    {
        for (int seed = 0; seed < 8; seed++)
        {
            (MemoryStorageDirectory directory, SimPowerSwitch power) = _journal.NewDirectory();
            List<EpochLog> epochs = JournalFixture.SealedEpochs(5);
            EpochJournal journal = JournalFixture.Open(directory, out _, compactAboveBytes: 1);
            for (int i = 0; i < 4; i++)
            {
                journal.Append(epochs[i]);
            }

            journal.Release(2);
            Assert.Equal(1, journal.Compactions);
            journal.Append(epochs[4]);

            power.TurnOff();
            directory.PowerCut(new Random(seed));
            power.TurnOn();
            JournalFixture.Open(directory, out List<JournalEntry> entries, appliedEpoch: 2).Dispose();

            Assert.Equal([3, 4, 5], entries.Select(e => e.Checkpoint.Epoch));
        }
    }

    [Fact]
    public void A_power_cut_at_any_storage_call_of_a_compaction_keeps_every_unapplied_entry()
    {
        List<EpochLog> epochs = JournalFixture.SealedEpochs(5);
        for (int cutAt = 1; cutAt <= 12; cutAt++)
        {
            for (int seed = 0; seed < 4; seed++)
            {
                (MemoryStorageDirectory directory, SimPowerSwitch power) = _journal.NewDirectory();
                EpochJournal journal = JournalFixture.Open(directory, out _, compactAboveBytes: 1);
                for (int i = 0; i < 4; i++)
                {
                    journal.Append(epochs[i]);
                }

                power.ArmAfter(cutAt);
                bool appended = false;
                try
                {
                    journal.Release(2);
                    journal.Append(epochs[4]);
                    appended = true;
                }
                catch (SimPowerCutException)
                {
                }

                power.TurnOff();
                directory.PowerCut(new Random(seed));
                power.TurnOn();
                power.Disarm();
                JournalFixture.Open(directory, out List<JournalEntry> entries, appliedEpoch: 2).Dispose();

                long[] unapplied = entries.Select(e => e.Checkpoint.Epoch).Where(e => e > 2).ToArray();
                string what = $"cut at call {cutAt}, seed {seed}: recovered [{string.Join(",", entries.Select(e => e.Checkpoint.Epoch))}]";
                Assert.True(appended ? unapplied is [3, 4, 5] : unapplied is [3, 4] or [3, 4, 5], what);
            }
        }
    }

    [Fact]
    public void Releasing_everything_starts_the_file_again_from_the_front_without_a_compaction()
    {
        (MemoryStorageDirectory directory, _) = _journal.NewDirectory();
        List<EpochLog> epochs = JournalFixture.SealedEpochs(3);
        using EpochJournal journal = JournalFixture.Open(directory, out _, compactAboveBytes: 1);
        journal.Append(epochs[0]);
        journal.Append(epochs[1]);

        journal.Release(2);
        journal.Append(epochs[2]);

        Assert.Equal(0, journal.Compactions);
        Assert.Equal([(3L, 0L, (int)journal.Length)], journal.EntriesHeld());
    }

    private static long EntrySize()
    {
        var directory = new MemoryStorageDirectory();
        using EpochJournal journal = JournalFixture.Open(directory, out _);
        journal.Append(JournalFixture.SealedEpochs(1)[0]);
        return journal.Length;
    }
}
