using System.Buffers.Binary;
using Replicator.Core.Secondary;
using Replicator.Hosts.Storage;
using Replicator.Hosts.Testing;
using Replicator.InMemory;
using Replicator.Sim.Faults;
using Replicator.Sim.Storage;

namespace Replicator.Sim.Tests.Journal;

/// <summary>
/// The daemon's own journal on the simulated disk: a power cut between any two of its storage
/// calls, a full disk, a failed flush, and tails that only look like entries. (Damage in each field
/// is in <see cref="JournalRecoveryTests"/>.)
/// </summary>
public class JournalPowerCutTests
{
    private const long Salt = JournalFixture.Salt;

    private readonly JournalFixture _journal = new();

    [Fact]
    public void A_power_cut_at_any_storage_call_keeps_every_completed_append_and_only_a_run_of_whole_entries()
    {
        List<EpochLog> epochs = SealedEpochs(6);
        for (int cutAt = 1; cutAt <= 30; cutAt++)
        {
            for (int seed = 0; seed < 4; seed++)
            {
                (MemoryStorageDirectory directory, SimPowerSwitch power) = NewDirectory();
                EpochJournal.Open(directory, out _, appliedEpoch: 0, salt: Salt).Dispose();
                EpochJournal journal = EpochJournal.Open(directory, out _, appliedEpoch: 0, salt: Salt);
                power.ArmAfter(cutAt);
                int completed = 0;
                try
                {
                    for (int i = 0; i < 5; i++)
                    {
                        journal.Append(epochs[i]);
                        completed++;
                    }

                    // Everything applied: the next append reuses the file from the front.
                    journal.Release(5);
                    journal.Append(epochs[5]);
                    completed++;
                }
                catch (SimPowerCutException)
                {
                }

                power.TurnOff();
                directory.PowerCut(new Random(seed));
                power.TurnOn();
                power.Disarm();
                // Released only once the state record said everything up to 5 was applied.
                EpochJournal.Open(directory, out List<JournalEntry> entries, appliedEpoch: completed >= 5 ? 5 : 0, salt: Salt).Dispose();

                long[] kept = entries.Select(e => e.Checkpoint.Epoch).ToArray();
                string what = $"cut at call {cutAt}, seed {seed}: {completed} appends completed, recovered [{string.Join(",", kept)}]";
                Assert.True(kept.Zip(kept.Skip(1)).All(p => p.Second == p.First + 1), what);
                if (completed == 6)
                {
                    Assert.True(kept is [6], what);
                }
                else if (completed < 5)
                {
                    // Nothing was released yet: every completed append is there, from the first on.
                    Assert.True(kept.Length >= completed && (kept.Length == 0 || kept[0] == 1), what);
                }
            }
        }
    }

    [Fact]
    public void A_full_disk_fails_the_append_and_nothing_of_it_is_recovered()
    {
        (MemoryStorageDirectory directory, _) = NewDirectory();
        _journal.Faults.Full(DiskId.SecondaryJournal, 0, 10);
        EpochJournal journal = EpochJournal.Open(directory, out _, appliedEpoch: 0, salt: Salt);

        Assert.Throws<IOException>(() => journal.Append(SealedEpochs(1)[0]));
        journal.Dispose();
        EpochJournal.Open(directory, out List<JournalEntry> entries, appliedEpoch: 0, salt: Salt).Dispose();
        Assert.Empty(entries);
    }

    [Fact]
    public void The_planted_skip_steps_over_a_damaged_entry_and_trusts_what_follows()
    {
        (MemoryStorageDirectory directory, long second) = ThreeEntries();
        Flip(directory.Peek(EpochJournal.FileName)!, second + EpochJournal.HeaderSize + 10);

        PlantedJournalSkip.Open(directory, out List<JournalEntry> entries, appliedEpoch: 0, Salt, EpochJournal.DefaultSwitchAboveBytes, JournalDamagePolicy.Refuse).Dispose();

        Assert.Equal([1, 3], entries.Select(e => e.Checkpoint.Epoch));
    }

    [Fact]
    public void A_damaged_last_entry_reads_as_a_torn_append_and_is_cut()
    {
        (MemoryStorageDirectory directory, _) = ThreeEntries();
        MemoryDisk file = directory.Peek(EpochJournal.FileName)!;
        Flip(file, file.Size - 5);

        EpochJournal.Open(directory, out List<JournalEntry> entries, appliedEpoch: 0, salt: Salt).Dispose();

        Assert.Equal([1, 2], entries.Select(e => e.Checkpoint.Epoch));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(13)]
    [InlineData(23)]
    public void Bytes_that_look_like_an_entry_s_start_in_the_last_bytes_of_the_file_are_a_torn_tail(int tail)
    {
        (MemoryStorageDirectory directory, long second) = ThreeEntries();
        MemoryDisk file = directory.Peek(EpochJournal.FileName)!;
        long third = 2 * second; // the entries are of one size
        byte[] torn = new byte[tail];
        BinaryPrimitives.WriteUInt32LittleEndian(torn, EpochJournal.Magic);
        file.Write(file.Size, torn, fua: true);

        // The third entry's start torn too: the search for what follows runs to the file's end.
        Flip(file, third);
        EpochJournal.Open(directory, out List<JournalEntry> entries, appliedEpoch: 0, salt: Salt).Dispose();

        Assert.Equal([1, 2], entries.Select(e => e.Checkpoint.Epoch));
        Assert.Equal(third, file.Size);
    }

    [Fact]
    public void A_whole_entry_of_another_journal_inside_the_file_is_never_taken_for_one_of_this_journal_s()
    {
        // Another node's journal (or one a guest keeps, or forged, in its own data) has another salt.
        (MemoryStorageDirectory other, _) = NewDirectory();
        EpochJournal foreign = EpochJournal.Open(other, out _, appliedEpoch: 0, salt: Salt + 1);
        List<EpochLog> epochs = SealedEpochs(5);
        foreign.Append(epochs[3]); // newer than anything this journal holds
        foreign.Append(epochs[4]);
        foreign.Dispose();
        byte[] foreignEntries = other.Peek(EpochJournal.FileName)!.Contents.ToArray();

        (MemoryStorageDirectory directory, long second) = ThreeEntries();
        MemoryDisk file = directory.Peek(EpochJournal.FileName)!;
        Flip(file, 2 * second); // the third entry torn at its start
        file.Write(file.Size, foreignEntries, fua: true);

        EpochJournal.Open(directory, out List<JournalEntry> entries, appliedEpoch: 0, salt: Salt).Dispose();

        Assert.Equal([1, 2], entries.Select(e => e.Checkpoint.Epoch));
    }

    [Fact]
    public void An_append_whose_flush_failed_is_made_durable_before_it_is_read_back_as_committed()
    {
        (MemoryStorageDirectory directory, SimPowerSwitch power) = NewDirectory();
        EpochJournal journal = EpochJournal.Open(directory, out _, appliedEpoch: 0, salt: Salt);
        _journal.Faults.Errors(DiskId.SecondaryJournal, DiskFailure.Flush, 0, 10);
        // Half the calls in an error window fail: append until one flush does.
        List<EpochLog> epochs = SealedEpochs(8);
        int failed = epochs.FindIndex(e =>
        {
            try
            {
                journal.Append(e);
                return false;
            }
            catch (IOException)
            {
                return true;
            }
        });
        Assert.True(failed >= 0);
        journal.Dispose();

        // The process restarts (the cache still holds the append), reads it back, then the power goes.
        _journal.Clock.RunUntil(20);
        EpochJournal.Open(directory, out List<JournalEntry> readBack, appliedEpoch: 0, salt: Salt).Dispose();
        power.TurnOff();
        directory.PowerCut(new Random(3));
        power.TurnOn();
        EpochJournal.Open(directory, out List<JournalEntry> afterPowerCut, appliedEpoch: 0, salt: Salt).Dispose();

        Assert.Equal(readBack.Select(e => e.Checkpoint.Epoch), afterPowerCut.Select(e => e.Checkpoint.Epoch));
    }

    /// <summary>A journal of three entries; returns where the second begins.</summary>
    private (MemoryStorageDirectory Directory, long Second) ThreeEntries()
    {
        (MemoryStorageDirectory directory, long[] offsets) = _journal.Entries(3);
        return (directory, offsets[1]);
    }

    private (MemoryStorageDirectory Directory, SimPowerSwitch Power) NewDirectory() => _journal.NewDirectory();

    private static List<EpochLog> SealedEpochs(int count) => JournalFixture.SealedEpochs(count);

    private static void Flip(MemoryDisk file, long offset) => JournalFixture.Flip(file, offset);
}
