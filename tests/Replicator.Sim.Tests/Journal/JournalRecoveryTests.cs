using System.Buffers.Binary;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Hosts.Storage;
using Replicator.InMemory;

namespace Replicator.Sim.Tests.Journal;

/// <summary>
/// Reading the journal back at start-up: a torn tail is cut, damage before a whole newer entry is
/// refused (or kept as evidence) with the reason and the epochs at stake, never taken for a torn write.
/// </summary>
public class JournalRecoveryTests
{
    private readonly JournalFixture _journal = new();

    [Theory]
    [InlineData(0, "no whole entry header")] // the magic
    [InlineData(4, "header checksum mismatch")] // the body length, still inside the file
    [InlineData(8, "header checksum mismatch")] // the epoch
    [InlineData(16, "header checksum mismatch")] // the body's checksum, which the header's covers
    [InlineData(20, "format version")] // the format version
    [InlineData(24, "header checksum mismatch")] // the header's checksum
    [InlineData(EpochJournal.HeaderSize + 10, "checksum mismatch")] // the body: a record's sequence number
    [InlineData(EpochJournal.HeaderSize + 25, "checksum mismatch")] // a record's length: its payload can no longer be found
    [InlineData(EpochJournal.HeaderSize + 32 + 4000, "checksum mismatch")] // a record's payload, which its record hash covers
    [InlineData(EpochJournal.HeaderSize + 32 + 4096 + 3, "checksum mismatch")] // the checkpoint
    public void Damage_in_any_field_before_a_whole_newer_entry_is_refused_with_its_reason_the_epochs_at_stake_and_the_file_untouched(int at, string why)
    {
        (MemoryStorageDirectory directory, long[] offsets) = _journal.Entries(3);
        MemoryDisk file = JournalFixture.File(directory);
        JournalFixture.Flip(file, offsets[1] + at);
        byte[] before = file.Contents.ToArray();

        var refused = Assert.Throws<InvalidDataException>(() => JournalFixture.Open(directory, out _));

        Assert.Contains($"journal state/{EpochJournal.FileName} is damaged: the entry at byte {offsets[1]} cannot be read ({why}", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"a whole entry of epoch 3 follows at byte {offsets[2]}", refused.Message, StringComparison.Ordinal);
        Assert.Contains("epochs after 1 and before 3 may have been acknowledged", refused.Message, StringComparison.Ordinal);
        Assert.Contains("promote it from checkpoint 1 with --failover-discarding-unverifiable-epochs", refused.Message, StringComparison.Ordinal);
        Assert.Equal(before, file.Contents.ToArray());
        Assert.Equal(0, directory.OpenDevices);
    }

    [Theory]
    [InlineData(new[] { 0 }, 0, 0)] // the first entry lost, nothing applied: nothing verifiable beyond the empty image
    [InlineData(new[] { 2 }, 0, 2)] // entry 3 lost: epoch 2 is the last verifiable, ahead of the image
    [InlineData(new[] { 2 }, 1, 2)]
    [InlineData(new[] { 0, 1 }, 1, 1)] // entries 1 and 2 lost, the image holds 1: the image is ahead of the journal
    public void The_last_verifiable_epoch_is_the_newer_of_the_last_whole_entry_and_what_the_image_holds(int[] damaged, long applied, long lastVerifiable)
    {
        (MemoryStorageDirectory directory, long[] offsets) = _journal.Entries(4);
        foreach (int entry in damaged)
        {
            JournalFixture.Flip(JournalFixture.File(directory), offsets[entry] + EpochJournal.HeaderSize + 10);
        }

        var refused = Assert.Throws<InvalidDataException>(() => JournalFixture.Open(directory, out _, applied));
        using EpochJournal evidence = JournalFixture.Open(directory, out List<JournalEntry> entries, applied, policy: JournalDamagePolicy.KeepAsEvidence);

        Assert.Contains($"promote it from checkpoint {lastVerifiable} ", refused.Message, StringComparison.Ordinal);
        Assert.Equal(lastVerifiable, evidence.Damage!.LastVerifiableEpoch);
        Assert.Equal(Enumerable.Range(1, damaged[0]).Select(e => (long)e), entries.Select(e => e.Checkpoint.Epoch));
    }

    [Fact]
    public void A_damaged_entry_is_forgiven_only_when_the_image_already_holds_it()
    {
        (MemoryStorageDirectory directory, long[] offsets) = _journal.Entries(4);
        JournalFixture.Flip(JournalFixture.File(directory), offsets[1] + EpochJournal.HeaderSize + 10);

        // The image holds epoch 1 only: epoch 2 was committed, maybe acknowledged, and is gone.
        Assert.Throws<InvalidDataException>(() => JournalFixture.Open(directory, out _, appliedEpoch: 1));
        // The image holds epoch 2: nothing unapplied is missing.
        using EpochJournal journal = JournalFixture.Open(directory, out List<JournalEntry> entries, appliedEpoch: 2);

        Assert.Equal([1, 3, 4], entries.Select(e => e.Checkpoint.Epoch));
        Assert.Equal(1, journal.EntriesSteppedOver);
        Assert.Equal(offsets[2], journal.EntriesHeld()[1].Offset);
    }

    [Fact]
    public void A_journal_that_verifies_to_its_end_steps_over_nothing_and_holds_no_damage()
    {
        (MemoryStorageDirectory directory, long[] offsets) = _journal.Entries(3);

        using EpochJournal journal = JournalFixture.Open(directory, out List<JournalEntry> entries, appliedEpoch: 3, policy: JournalDamagePolicy.KeepAsEvidence);

        Assert.Equal([1, 2, 3], entries.Select(e => e.Checkpoint.Epoch));
        Assert.Equal(0, journal.EntriesSteppedOver);
        Assert.Null(journal.Damage);
        Assert.Equal(offsets, journal.EntriesHeld().Select(e => e.Offset));
    }

    [Fact]
    public void An_older_entry_left_in_place_of_a_newer_one_by_a_lost_write_is_refused()
    {
        // Epochs 1-3, all applied and released; epochs 4-6 of the same size reuse the file from the front.
        (MemoryStorageDirectory directory, _) = _journal.NewDirectory();
        EpochJournal journal = JournalFixture.Open(directory, out _);
        List<EpochLog> epochs = JournalFixture.SealedEpochs(6);
        for (int i = 0; i < 3; i++)
        {
            journal.Append(epochs[i]);
        }

        (_, _, long second, int length) = journal.EntriesHeld()[1];
        byte[] epoch2 = JournalFixture.File(directory).Contents.Slice((int)second, length).ToArray();
        journal.Release(3);
        for (int i = 3; i < 6; i++)
        {
            journal.Append(epochs[i]);
        }

        journal.Dispose();

        // The disk loses the write of epoch 5: the old entry of epoch 2 is still where epoch 5 should be.
        JournalFixture.File(directory).Write(second, epoch2, fua: true);
        var refused = Assert.Throws<InvalidDataException>(() => JournalFixture.Open(directory, out _, appliedEpoch: 3));

        Assert.Contains($"the entry at byte {second} cannot be read (epoch 2 does not follow epoch 4)", refused.Message, StringComparison.Ordinal);
        Assert.Contains("a whole entry of epoch 6 follows", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(EpochJournal.HeaderSize)]
    [InlineData(100)]
    public void A_file_that_ends_inside_the_last_entry_s_body_is_a_torn_append_and_is_cut(int missing)
    {
        // A full disk mid-append, or a file system that kept the header's blocks and not the body's.
        (MemoryStorageDirectory directory, long[] offsets) = _journal.Entries(3);
        MemoryDisk file = JournalFixture.File(directory);
        file.SetSize(file.Size - missing);
        file.Flush();

        using EpochJournal journal = JournalFixture.Open(directory, out List<JournalEntry> entries);

        Assert.Equal([1, 2], entries.Select(e => e.Checkpoint.Epoch));
        Assert.Equal(offsets[2], file.Size);
        Assert.Equal(offsets[2], journal.Length);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(EpochJournal.HeaderSize - 1)]
    [InlineData(EpochJournal.HeaderSize)]
    [InlineData(EpochJournal.HeaderSize + 3)]
    public void A_torn_tail_is_cut_durably_before_the_journal_is_used(int tail)
    {
        for (int seed = 0; seed < 8; seed++)
        {
            (MemoryStorageDirectory directory, long[] offsets) = _journal.Entries(2);
            MemoryDisk file = JournalFixture.File(directory);
            long end = file.Size;
            byte[] torn = JournalFixture.Pattern(seed, tail);
            if (tail >= 4)
            {
                // It even starts like an entry.
                BinaryPrimitives.WriteUInt32LittleEndian(torn, EpochJournal.Magic);
            }

            file.Write(end, torn, fua: false);
            file.Flush();

            using (EpochJournal journal = JournalFixture.Open(directory, out List<JournalEntry> entries))
            {
                Assert.Equal([1, 2], entries.Select(e => e.Checkpoint.Epoch));
                Assert.Equal(end, journal.Length);
            }

            // The power goes before anything else is written: the tail stays cut.
            directory.PowerCut(new Random(seed));
            Assert.Equal(end, file.Size);
            Assert.Equal(offsets, JournalFixture.Open(directory, out _).EntriesHeld().Select(e => e.Offset));
        }
    }

    [Fact]
    public void An_entry_whose_checksums_hold_but_whose_checkpoint_is_of_another_epoch_is_refused_not_replayed()
    {
        AssertRefusedAsContradicting((epoch, body) => JournalFixture.DocumentedEntry(epoch + 1, body), "holds the checkpoint of epoch");
    }

    [Fact]
    public void An_entry_whose_checksums_hold_but_that_holds_a_record_of_another_epoch_is_refused_not_replayed()
    {
        AssertRefusedAsContradicting(
            (epoch, body) =>
            {
                BinaryPrimitives.WriteInt64LittleEndian(body, epoch + 1); // the first record's epoch
                return JournalFixture.DocumentedEntry(epoch, body);
            },
            $"holds a bad record: epoch ");
    }

    [Fact]
    public void An_entry_whose_checksums_hold_but_that_holds_a_malformed_record_header_is_refused_not_replayed()
    {
        AssertRefusedAsContradicting(
            (epoch, body) =>
            {
                body[28] = 99; // the first record's operation: no such operation
                return JournalFixture.DocumentedEntry(epoch, body);
            },
            "holds a bad record: unknown operation 99");
    }

    [Fact]
    public void An_entry_whose_checksums_hold_but_whose_checkpoint_does_not_decode_is_refused_not_replayed()
    {
        AssertRefusedAsContradicting(
            (epoch, body) =>
            {
                int checkpointLength = BinaryPrimitives.ReadInt32LittleEndian(body.AsSpan(body.Length - 4));
                body.AsSpan(body.Length - 4 - checkpointLength, checkpointLength).Fill(0xC1); // a byte MessagePack never uses
                return JournalFixture.DocumentedEntry(epoch, body);
            },
            "does not agree with its header");
    }

    [Fact]
    public void An_entry_whose_checksums_hold_but_whose_last_record_runs_past_the_body_is_refused_not_replayed()
    {
        AssertRefusedAsContradicting(
            (epoch, body) =>
            {
                // The last record's payload one byte short, the checkpoint and its length behind it as they were.
                int checkpointAt = body.Length - 4 - BinaryPrimitives.ReadInt32LittleEndian(body.AsSpan(body.Length - 4));
                return JournalFixture.DocumentedEntry(epoch, [.. body.AsSpan(0, checkpointAt - 1), .. body.AsSpan(checkpointAt)]);
            },
            "runs past the records' end");
    }

    [Fact]
    public void Any_one_byte_flipped_anywhere_is_refused_as_damage_or_cut_as_a_torn_tail_never_read_back_changed()
    {
        // Small records of every kind, so that every field of every record header is flipped somewhere.
        List<EpochLog> epochs = JournalFixture.Seal(
            3,
            e => [BlockRequest.Write(e * 4096, 512), BlockRequest.Zeroes(0, 512, fua: true), BlockRequest.Trim(8192, 4096), BlockRequest.Flush(), BlockRequest.Write(16384, 1024)],
            e => (int)e * 8);
        var appended = epochs.Select(e => (e.Checkpoint!.Digest, Records: e.Records.ToArray().Select(r => (r.Record.Epoch, r.Record.Sequence, r.Record.Request, Payload: Convert.ToHexString(r.Record.Payload.Span))).ToList())).ToList();
        (MemoryStorageDirectory original, _) = _journal.NewDirectory();
        long lastEntryAt;
        using (EpochJournal journal = JournalFixture.Open(original, out _))
        {
            foreach (EpochLog epoch in epochs)
            {
                journal.Append(epoch);
            }

            lastEntryAt = journal.EntriesHeld()[^1].Offset;
        }

        byte[] file = JournalFixture.File(original).Contents.ToArray();
        var refused = new List<int>();
        for (int at = 0; at < file.Length; at++)
        {
            (MemoryStorageDirectory directory, _) = _journal.NewDirectory();
            JournalFixture.Open(directory, out _).Dispose();
            byte[] flipped = file.ToArray();
            flipped[at] ^= 0x5A;
            JournalFixture.File(directory).Write(0, flipped, fua: true);

            List<JournalEntry> read;
            try
            {
                JournalFixture.Open(directory, out read).Dispose();
            }
            catch (InvalidDataException)
            {
                refused.Add(at);
                continue;
            }

            // Whatever is read back is what was appended, from the first epoch on; only the last entry may be missing (torn).
            Assert.InRange(read.Count, appended.Count - 1, appended.Count);
            foreach (((ulong digest, var records), JournalEntry entry) in appended.Zip(read))
            {
                Assert.Equal(digest, entry.Checkpoint.Digest);
                Assert.Equal(records, entry.Records.Select(r => (r.Epoch, r.Sequence, r.Request, Payload: Convert.ToHexString(r.Payload.Span))).ToList());
            }
        }

        // Every byte before the last entry has a whole entry after it: flipped, it is damage. One in the last is a torn append.
        Assert.Equal(Enumerable.Range(0, (int)lastEntryAt), refused);
    }

    [Fact]
    public void A_refused_start_closes_the_journal_file()
    {
        (MemoryStorageDirectory directory, long[] offsets) = _journal.Entries(3);
        JournalFixture.Flip(JournalFixture.File(directory), offsets[1] + 40);

        Assert.Throws<InvalidDataException>(() => JournalFixture.Open(directory, out _));

        Assert.Equal(0, directory.OpenDevices);
    }

    /// <summary>
    /// The second of three entries rewritten, with checksums that hold, from its own body by
    /// <paramref name="forge"/>: a writer's bug, not a torn write or a medium's damage.
    /// </summary>
    private void AssertRefusedAsContradicting(Func<long, byte[], byte[]> forge, string why)
    {
        (MemoryStorageDirectory directory, long[] offsets) = _journal.Entries(3);
        MemoryDisk file = JournalFixture.File(directory);
        byte[] second = file.Contents[(int)offsets[1]..(int)offsets[2]].ToArray();
        byte[] forged = forge(2, second.AsSpan(EpochJournal.HeaderSize).ToArray());
        byte[] third = file.Contents[(int)offsets[2]..].ToArray();
        file.SetSize(offsets[1]);
        file.Write(offsets[1], [.. forged, .. third], fua: true);
        file.Flush();
        byte[] before = file.Contents.ToArray();

        // Whatever the policy: such an entry is never replayed, nor cut as if it were torn.
        foreach (JournalDamagePolicy policy in new[] { JournalDamagePolicy.Refuse, JournalDamagePolicy.KeepAsEvidence })
        {
            var refused = Assert.Throws<InvalidDataException>(() => JournalFixture.Open(directory, out _, policy: policy));

            Assert.Contains($"journal state/{EpochJournal.FileName} is damaged: the entry at byte {offsets[1]} does not agree with its header", refused.Message, StringComparison.Ordinal);
            Assert.Contains(why, refused.Message, StringComparison.Ordinal);
            Assert.Equal(before, file.Contents.ToArray());
            Assert.Equal(0, directory.OpenDevices);
        }
    }
}
