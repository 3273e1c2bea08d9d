using Replicator.Core.Blocks;
using Replicator.Core.Secondary;
using Replicator.Hosts.Storage;
using Replicator.InMemory;
using Replicator.Sim.Faults;
using Replicator.Testing;

namespace Replicator.Sim.Tests.Journal;

/// <summary>
/// Records written to the journal ahead of their epoch's commit (<see cref="EpochJournal.Stage"/>):
/// the commit then makes the very entry a whole append makes, taking only what was written for
/// its own epoch log, in sequence, where its entry goes; what never commits is a torn tail.
/// </summary>
public class JournalStagingTests
{
    private readonly JournalFixture _journal = new();

    /// <summary>Epochs of many 64 KiB writes, a 768 KiB one (written straight from its payload) and a few small ones: more than the staging buffer holds.</summary>
    private static List<EpochLog> LargeEpochs(int count) => JournalFixture.Seal(
        count,
        e => [
            .. Enumerable.Range(0, 24).Select(i => BlockRequest.Write(i * 65536L, 65536)),
            BlockRequest.Write(8L << 20, 768 * 1024, fua: true),
            BlockRequest.Zeroes(0, 4096),
            BlockRequest.Write(512, 512),
        ],
        e => (int)e * 100,
        maxRequestBytes: 1 << 20);

    [Fact]
    public void Records_written_ahead_make_byte_for_byte_the_entry_a_whole_append_makes_and_reach_the_file_before_the_commit()
    {
        List<EpochLog> epochs = LargeEpochs(3);
        (MemoryStorageDirectory whole, _) = _journal.NewDirectory();
        using (EpochJournal journal = JournalFixture.Open(whole, out _))
        {
            epochs.ForEach(e => journal.Append(e));
        }

        (MemoryStorageDirectory ahead, _) = _journal.NewDirectory();
        using (EpochJournal journal = JournalFixture.Open(ahead, out _))
        {
            foreach (EpochLog epoch in epochs)
            {
                long end = journal.Length;
                foreach (BufferedRecord held in epoch.Records)
                {
                    Assert.True(journal.Stage(epoch.Incarnation, held.Record, held.Hash));
                }

                // Most of the epoch is in the file already, behind the journal's end.
                Assert.True(JournalFixture.File(ahead).Size > end + (1L << 20), $"file {JournalFixture.File(ahead).Size}, end {end}");
                Assert.Equal(end, journal.Length);
                journal.Append(epoch);
            }

            Assert.Equal((27L * 3, 3L), (journal.RecordsStaged, journal.CommitsStaged));
        }

        Assert.Equal(JournalFixture.File(whole).Contents.ToArray(), JournalFixture.File(ahead).Contents.ToArray());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Large_payloads_go_to_the_file_after_whatever_is_staged_before_them(bool writtenAhead)
    {
        // Payloads of half the staging buffer or more are written straight from their memory, with
        // little or much staged before them; each entry must read back whole.
        int[] sizes = [768 * 1024, 4096, 600 * 1024, 1 << 20, 512, 520 * 1024];
        List<EpochLog> epochs = JournalFixture.Seal(3, e => [.. sizes.Skip((int)e - 1).Select((size, i) => BlockRequest.Write((i + 1) * (2L << 20), size))], maxRequestBytes: 1 << 20);
        (MemoryStorageDirectory directory, _) = _journal.NewDirectory();
        using (EpochJournal journal = JournalFixture.Open(directory, out _))
        {
            foreach (EpochLog epoch in epochs)
            {
                if (writtenAhead)
                {
                    StageAll(journal, epoch);
                }

                journal.Append(epoch);
            }
        }

        JournalFixture.Open(directory, out List<JournalEntry> entries).Dispose();
        Assert.Equal([1, 2, 3], entries.Select(e => e.Checkpoint.Epoch));
        foreach ((EpochLog epoch, JournalEntry entry) in epochs.Zip(entries))
        {
            Assert.Equal(epoch.Records.ToArray().Select(r => r.Record.Payload.ToArray()), entry.Records.Select(r => r.Payload.ToArray()));
        }
    }

    [Fact]
    public void A_commit_finds_the_first_records_written_ahead_and_writes_the_rest()
    {
        List<EpochLog> epochs = LargeEpochs(1);
        (MemoryStorageDirectory whole, _) = _journal.NewDirectory();
        using (EpochJournal journal = JournalFixture.Open(whole, out _))
        {
            journal.Append(epochs[0]);
        }

        (MemoryStorageDirectory ahead, _) = _journal.NewDirectory();
        using (EpochJournal journal = JournalFixture.Open(ahead, out _))
        {
            foreach (BufferedRecord held in epochs[0].Records[..10])
            {
                journal.Stage(epochs[0].Incarnation, held.Record, held.Hash);
            }

            journal.Append(epochs[0]);
            Assert.Equal((10L, 1L), (journal.RecordsStaged, journal.CommitsStaged));
        }

        Assert.Equal(JournalFixture.File(whole).Contents.ToArray(), JournalFixture.File(ahead).Contents.ToArray());
    }

    [Fact]
    public void Records_written_ahead_of_a_commit_that_never_comes_are_a_torn_tail_after_a_crash_or_a_power_cut()
    {
        for (int seed = 0; seed < 20; seed++)
        {
            List<EpochLog> epochs = LargeEpochs(2);
            (MemoryStorageDirectory directory, _) = _journal.NewDirectory();
            long end;
            using (EpochJournal journal = JournalFixture.Open(directory, out _))
            {
                journal.Append(epochs[0]);
                end = journal.Length;
                foreach (BufferedRecord held in epochs[1].Records)
                {
                    journal.Stage(epochs[1].Incarnation, held.Record, held.Hash);
                }
            }

            if (seed % 2 == 1)
            {
                directory.PowerCut(new Random(seed));
            }

            using (EpochJournal journal = JournalFixture.Open(directory, out List<JournalEntry> entries))
            {
                Assert.Equal([1], entries.Select(e => e.Checkpoint.Epoch));
                Assert.Equal(end, journal.Length);
                journal.Append(epochs[1]);
            }

            JournalFixture.Open(directory, out List<JournalEntry> all).Dispose();
            Assert.Equal([1, 2], all.Select(e => e.Checkpoint.Epoch));
            Assert.Equal(epochs[1].Records[^1].Record.Payload.ToArray(), all[1].Records[^1].Payload.ToArray());
        }
    }

    [Fact]
    public void A_commit_never_takes_records_written_ahead_for_another_incarnation_of_its_epoch()
    {
        // The epoch was opened once, written ahead with other records, and discarded (a lost link);
        // its next incarnation commits other bytes under the same epoch and sequence numbers.
        List<EpochLog> discarded = JournalFixture.Seal(1, e => [BlockRequest.Write(0, 4096), BlockRequest.Write(4096, 4096)]);
        List<EpochLog> epochs = JournalFixture.Seal(1, e => [BlockRequest.Write(65536, 4096), BlockRequest.Write(131072, 4096)]);
        (MemoryStorageDirectory directory, _) = _journal.NewDirectory();
        using (EpochJournal journal = JournalFixture.Open(directory, out _))
        {
            foreach (BufferedRecord held in discarded[0].Records)
            {
                journal.Stage(epochs[0].Incarnation + 1000, held.Record, held.Hash);
            }

            journal.Append(epochs[0]);
            Assert.Equal(0, journal.CommitsStaged);
        }

        JournalFixture.Open(directory, out List<JournalEntry> entries).Dispose();
        Assert.Equal([65536L, 131072L], entries[0].Records.Select(r => r.Request.Offset));
    }

    [Fact]
    public void A_record_out_of_sequence_ends_the_writing_ahead_and_the_commit_writes_the_epoch_whole()
    {
        List<EpochLog> epochs = JournalFixture.Seal(1, e => [BlockRequest.Write(0, 4096), BlockRequest.Write(4096, 4096), BlockRequest.Write(8192, 4096)]);
        EpochLog epoch = epochs[0];
        (MemoryStorageDirectory directory, _) = _journal.NewDirectory();
        using (EpochJournal journal = JournalFixture.Open(directory, out _))
        {
            Assert.True(journal.Stage(epoch.Incarnation, epoch.Records[1].Record, epoch.Records[1].Hash));
            Assert.False(journal.Stage(epoch.Incarnation, epoch.Records[0].Record, epoch.Records[0].Hash));
            Assert.False(journal.Stage(epoch.Incarnation, epoch.Records[2].Record, epoch.Records[2].Hash));

            journal.Append(epoch);
            Assert.Equal(0, journal.CommitsStaged);
        }

        JournalFixture.Open(directory, out List<JournalEntry> entries).Dispose();
        Assert.Equal([0L, 4096L, 8192L], entries[0].Records.Select(r => r.Request.Offset));
        Assert.Equal(epoch.Records[0].Record.Payload.ToArray(), entries[0].Records[0].Payload.ToArray());
    }

    [Fact]
    public void A_file_all_applied_is_not_reused_from_its_front_while_records_are_written_behind_its_end()
    {
        List<EpochLog> epochs = LargeEpochs(3);
        (MemoryStorageDirectory directory, _) = _journal.NewDirectory();
        using (EpochJournal journal = JournalFixture.Open(directory, out _))
        {
            journal.Append(epochs[0]);
            long end = journal.Length;
            journal.Stage(epochs[1].Incarnation, epochs[1].Records[0].Record, epochs[1].Records[0].Hash);

            journal.Release(1);
            journal.Append(epochs[1]);

            Assert.Equal((1L, end), (journal.CommitsStaged, journal.EntriesHeld()[0].Offset));

            // With nothing written ahead, a file all applied is reused from its front.
            journal.Release(2);
            journal.Append(epochs[2]);
            Assert.Equal(0, journal.EntriesHeld()[0].Offset);
        }

        JournalFixture.Open(directory, out List<JournalEntry> entries, appliedEpoch: 2).Dispose();
        Assert.Equal([3], entries.Select(e => e.Checkpoint.Epoch));
    }

    [Fact]
    public void Records_are_written_ahead_where_the_commit_will_go_and_not_taken_where_it_no_longer_goes()
    {
        List<EpochLog> epochs = LargeEpochs(5);
        (MemoryStorageDirectory directory, _) = _journal.NewDirectory();
        using (EpochJournal journal = JournalFixture.Open(directory, out _, switchAboveBytes: 1))
        {
            // Epoch 1 in the first file, 2 and 3 in the second, which stays current while the first holds epoch 1.
            journal.Append(epochs[0]);
            journal.Append(epochs[1]);
            journal.Append(epochs[2]);
            Assert.Equal(1, journal.Switches);

            // Epoch 4 is written ahead in the second file; epoch 1 is applied meanwhile, so its commit moves to the first.
            StageAll(journal, epochs[3]);
            journal.Release(1);
            journal.Append(epochs[3]);
            Assert.Equal((0L, 2), (journal.CommitsStaged, journal.Switches));

            // Epochs 2 and 3 applied: the second file is free, and epoch 5 is written ahead at its front, where its commit goes.
            journal.Release(3);
            StageAll(journal, epochs[4]);
            journal.Append(epochs[4]);
            Assert.Equal((1L, 3), (journal.CommitsStaged, journal.Switches));
            Assert.Equal([(4L, EpochJournal.FileName, 0L), (5L, EpochJournal.SecondFileName, 0L)], journal.EntriesHeld().Select(e => (e.Epoch, e.File, e.Offset)));
        }

        JournalFixture.Open(directory, out List<JournalEntry> entries, appliedEpoch: 3).Dispose();
        Assert.Equal([4, 5], entries.Select(e => e.Checkpoint.Epoch));
        Assert.Equal(epochs[3].Records[24].Record.Payload.ToArray(), entries[0].Records[24].Payload.ToArray());
        Assert.Equal(epochs[4].Records[24].Record.Payload.ToArray(), entries[1].Records[24].Payload.ToArray());
    }

    [Fact]
    public void Records_written_ahead_of_an_epoch_whose_predecessor_commits_first_are_written_again_at_its_commit()
    {
        // The next epoch's records were written ahead while the one before waited to be journalled.
        List<EpochLog> epochs = LargeEpochs(2);
        (MemoryStorageDirectory directory, _) = _journal.NewDirectory();
        using (EpochJournal journal = JournalFixture.Open(directory, out _))
        {
            journal.Stage(epochs[1].Incarnation, epochs[1].Records[0].Record, epochs[1].Records[0].Hash);
            journal.Append(epochs[0]);
            journal.Stage(epochs[1].Incarnation, epochs[1].Records[1].Record, epochs[1].Records[1].Hash);
            journal.Append(epochs[1]);
            Assert.Equal(0, journal.CommitsStaged);
        }

        JournalFixture.Open(directory, out List<JournalEntry> entries).Dispose();
        Assert.Equal([1, 2], entries.Select(e => e.Checkpoint.Epoch));
        Assert.Equal(epochs[1].Records[0].Record.Payload.ToArray(), entries[1].Records[0].Payload.ToArray());
    }

    private static void StageAll(EpochJournal journal, EpochLog epoch)
    {
        foreach (BufferedRecord held in epoch.Records)
        {
            journal.Stage(epoch.Incarnation, held.Record, held.Hash);
        }
    }

    [Fact]
    public void A_write_ahead_that_fails_commits_nothing_and_the_commit_meets_the_failure_itself()
    {
        List<EpochLog> epochs = LargeEpochs(1);
        (MemoryStorageDirectory directory, _) = _journal.NewDirectory();
        EpochJournal journal = JournalFixture.Open(directory, out _);
        _journal.Faults.Full(DiskId.SecondaryJournal, 0, 10);

        bool[] staged = epochs[0].Records.ToArray().Select(held => journal.Stage(epochs[0].Incarnation, held.Record, held.Hash)).ToArray();

        Assert.Contains(false, staged);
        Assert.Throws<IOException>(() => journal.Append(epochs[0]));
        journal.Dispose();
        JournalFixture.Open(directory, out List<JournalEntry> entries).Dispose();
        Assert.Empty(entries);
    }

    [Fact]
    public void A_journal_kept_as_evidence_writes_nothing_ahead()
    {
        (MemoryStorageDirectory directory, _) = _journal.Entries(2);
        byte[] before = JournalFixture.File(directory).Contents.ToArray();
        EpochLog third = JournalFixture.SealedEpochs(3)[2];
        using EpochJournal journal = JournalFixture.Open(directory, out _, policy: JournalDamagePolicy.KeepAsEvidence);

        Assert.False(journal.Stage(third.Incarnation, third.Records[0].Record, third.Records[0].Hash));

        Assert.Equal(before, JournalFixture.File(directory).Contents.ToArray());
    }

    [Fact]
    public void Records_written_ahead_are_started_out_to_the_disk_in_whole_pages_as_they_go_and_the_commit_leaves_its_own_writes_to_its_flush()
    {
        List<EpochLog> epochs = LargeEpochs(2);
        (MemoryStorageDirectory inner, _) = _journal.NewDirectory();
        var writeOuts = new List<(long Offset, long Length)>();
        using EpochJournal journal = EpochJournal.Open(new WriteOutInterceptingDirectory(inner, (offset, length) => writeOuts.Add((offset, length))), out _, appliedEpoch: 0, JournalFixture.Salt);
        foreach (EpochLog epoch in epochs)
        {
            // The second epoch's commit has records of its own to write too.
            long entryStart = journal.Length;
            writeOuts.Clear();
            foreach (BufferedRecord held in epoch.Records[..(epoch.Epoch == 1 ? epoch.Records.Length : 12)])
            {
                Assert.True(journal.Stage(epoch.Incarnation, held.Record, held.Hash));
            }

            long writtenAhead = JournalFixture.File(inner).Size;

            // In order, each range beginning where the last ended, whole pages, covering what was
            // written ahead up to its last whole page and nothing past it.
            Assert.NotEmpty(writeOuts);
            long expected = entryStart - (entryStart % Environment.SystemPageSize);
            foreach ((long offset, long length) in writeOuts)
            {
                Assert.Equal(expected, offset);
                Assert.True(length > 0 && offset % Environment.SystemPageSize == 0 && length % Environment.SystemPageSize == 0, $"{offset}+{length}");
                expected = offset + length;
            }

            Assert.Equal(writtenAhead - (writtenAhead % Environment.SystemPageSize), expected);

            // What the commit writes goes out with its flush, which follows at once.
            int before = writeOuts.Count;
            journal.Append(epoch);
            Assert.Equal(before, writeOuts.Count);
        }

        JournalFixture.Open(inner, out List<JournalEntry> entries).Dispose();
        Assert.Equal([1, 2], entries.Select(e => e.Checkpoint.Epoch));
    }
}
