using System.Buffers.Binary;
using MessagePack;
using NSubstitute;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Vm;
using Replicator.Hosts.Secondary;
using Replicator.Hosts.Storage;
using Replicator.InMemory;
using Replicator.Protocol.Messages;

namespace Replicator.Sim.Tests.Journal;

/// <summary>What the journal writes: every field back as appended, in the documented layout, and where each entry lies.</summary>
public class JournalFormatTests
{
    private readonly JournalFixture _journal = new();

    [Fact]
    public void Every_record_field_payload_and_checkpoint_comes_back_after_a_restart_as_it_was_appended()
    {
        // Writes of several sizes (one with FUA), zeroes, a trim and a flush; vCPU states of several sizes.
        List<EpochLog> epochs = JournalFixture.Seal(
            4,
            e =>
            [
                BlockRequest.Write(e * 8192, 512),
                BlockRequest.Write(e * 65536 + 4096, 12288, fua: e % 2 == 0),
                BlockRequest.Zeroes(e * 4096, 4096, fua: true),
                BlockRequest.Trim(1 << 20, 65536),
                BlockRequest.Flush(),
                BlockRequest.Write(0, 4096),
            ],
            e => (int)e * 300);
        (MemoryStorageDirectory directory, _) = _journal.NewDirectory();
        EpochJournal journal = JournalFixture.Open(directory, out _);
        var expected = epochs.Select(e => (Checkpoint: e.Checkpoint!, Records: e.Records.ToArray().Select(r => r.Record).ToList())).ToList();
        foreach (EpochLog epoch in epochs)
        {
            journal.Append(epoch);
        }

        journal.Dispose();

        JournalFixture.Open(directory, out List<JournalEntry> entries).Dispose();

        Assert.Equal(expected.Count, entries.Count);
        foreach (((CheckpointRecord checkpoint, List<MirrorRecord> records), JournalEntry entry) in expected.Zip(entries))
        {
            Assert.Equal((checkpoint.Epoch, checkpoint.FirstSequence, checkpoint.LastSequence, checkpoint.Digest, checkpoint.SnapshotDigest), (entry.Checkpoint.Epoch, entry.Checkpoint.FirstSequence, entry.Checkpoint.LastSequence, entry.Checkpoint.Digest, entry.Checkpoint.SnapshotDigest));
            Assert.Equal(checkpoint.Snapshot.CpuState, entry.Checkpoint.Snapshot.CpuState);
            Assert.Equal(records.Count, entry.Records.Count);
            foreach ((MirrorRecord appended, MirrorRecord read) in records.Zip(entry.Records))
            {
                Assert.Equal((appended.Epoch, appended.Sequence, appended.Request), (read.Epoch, read.Sequence, read.Request));
                Assert.Equal(appended.Payload.ToArray(), read.Payload.ToArray());
            }

            // And the engine agrees: the digest over what came back is the one the primary sent.
            var digest = default(EpochDigest);
            foreach (MirrorRecord read in entry.Records)
            {
                digest.Add(read);
            }

            Assert.Equal(checkpoint.Digest, digest.Value);
        }
    }

    [Fact]
    public void An_entry_is_laid_out_as_documented_with_its_checksums_computed_independently()
    {
        List<EpochLog> epochs = JournalFixture.Seal(1, e => [BlockRequest.Write(4096, 1024, fua: true), BlockRequest.Zeroes(0, 512)], _ => 40);
        MirrorRecord write = epochs[0].Records[0].Record;
        MirrorRecord zeroes = epochs[0].Records[1].Record;
        (MemoryStorageDirectory directory, _) = _journal.NewDirectory();
        using (EpochJournal journal = JournalFixture.Open(directory, out _))
        {
            journal.Append(epochs[0]);
        }

        byte[] file = JournalFixture.File(directory).Contents.ToArray();
        int bodyLength = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(4));
        Assert.Equal(file.Length, EpochJournal.HeaderSize + bodyLength);

        // The whole entry, header and checksums included, is what the documented layout gives for its body.
        byte[] body = file[EpochJournal.HeaderSize..];
        Assert.Equal(JournalFixture.DocumentedEntry(1, body), file);

        // The body: each record's 32-byte header and payload, then the checkpoint, then its length.
        int checkpointLength = BinaryPrimitives.ReadInt32LittleEndian(body.AsSpan(body.Length - 4));
        ReadOnlySpan<byte> records = body.AsSpan(0, body.Length - 4 - checkpointLength);
        Assert.Equal(32 + 1024 + 32, records.Length);
        AssertRecordHeader(records, write);
        Assert.Equal(write.Payload.ToArray(), records.Slice(32, 1024).ToArray());
        AssertRecordHeader(records[(32 + 1024)..], zeroes);
    }

    [Fact]
    public void A_checkpoint_received_with_its_pages_as_they_are_is_stored_as_it_arrived_and_read_back_whole()
    {
        // As the secondary receives it: decoded from its frame's bytes, its RAM pages slices of them.
        // This primary numbered its checkpoint (PageSequence), which a link without an encoding
        // ignores, so the journal's own encoding of the record would differ in that byte.
        List<EpochLog> epochs = JournalFixture.Seal(1, e => [BlockRequest.Write(0, 4096)], _ => 64, received: Received);
        CheckpointRecord sent = epochs[0].Checkpoint!;
        (MemoryStorageDirectory directory, _) = _journal.NewDirectory();
        using (EpochJournal journal = JournalFixture.Open(directory, out _))
        {
            journal.Append(epochs[0]);
        }

        byte[] body = JournalFixture.File(directory).Contents.ToArray()[EpochJournal.HeaderSize..];
        int checkpointLength = BinaryPrimitives.ReadInt32LittleEndian(body.AsSpan(body.Length - 4));
        Assert.Equal(sent.WireForm.ToArray(), body[(body.Length - 4 - checkpointLength)..^4]);

        JournalFixture.Open(directory, out List<JournalEntry> entries).Dispose();
        CheckpointRecord read = Assert.Single(entries).Checkpoint;
        Assert.Equal((sent.Epoch, sent.FirstSequence, sent.LastSequence, sent.Digest, sent.SnapshotDigest), (read.Epoch, read.FirstSequence, read.LastSequence, read.Digest, read.SnapshotDigest));
        Assert.Equal(sent.Snapshot.CpuState, read.Snapshot.CpuState);
        Assert.Equal(sent.Snapshot.Pages.Select(p => (p.Index, p.Data.ToArray())), read.Snapshot.Pages.Select(p => (p.Index, p.Data.ToArray())));
        Assert.Equal(sent.SnapshotDigest, read.Snapshot.ComputeDigest());

        static CheckpointRecord Received(CheckpointRecord made)
        {
            var pages = new VmSnapshot(made.Epoch, made.Snapshot.CpuState, [new VmPage(3, JournalFixture.Pattern(made.Epoch, 4096)), new VmPage(9, new byte[4096])]);
            var message = CheckpointMessage.From(made with { Snapshot = pages, SnapshotDigest = pages.ComputeDigest() });
            message.PageSequence = 7;
            byte[] wire = MessagePackSerializer.Serialize(message, ControlCodec.Options);
            var input = new SecondaryInput(SecondaryInputKind.Checkpoint, CheckpointBody: wire, LinkSequence: 1);
            return SecondaryFrameDecoder.DecodeCheckpoint(input, pages: null, out _);
        }
    }

    [Theory]
    [InlineData(3)] // the build before's: this layout, its checksum over the payloads' bytes
    [InlineData(2)] // an earlier one's: the checkpoint first
    public void Entries_an_earlier_build_wrote_are_read_back_and_appended_after(int version)
    {
        List<EpochLog> epochs = JournalFixture.Seal(4, e => [BlockRequest.Write(e * 4096, 4096), BlockRequest.Zeroes(0, 512)], e => (int)e * 10);
        MemoryStorageDirectory directory = JournalOfAnEarlierBuild(epochs.Take(3), version);

        using (EpochJournal journal = JournalFixture.Open(directory, out List<JournalEntry> read))
        {
            Assert.Equal([1, 2, 3], read.Select(e => e.Checkpoint.Epoch));
            Assert.Equal(epochs[1].Records[0].Record.Payload.ToArray(), read[1].Records[0].Payload.ToArray());
            Assert.Equal(epochs[2].Checkpoint!.Snapshot.CpuState, read[2].Checkpoint.Snapshot.CpuState);
            journal.Append(epochs[3]);
        }

        JournalFixture.Open(directory, out List<JournalEntry> all).Dispose();
        Assert.Equal([1, 2, 3, 4], all.Select(e => e.Checkpoint.Epoch));
        Assert.Equal(2, all[3].Records.Count);
    }

    [Fact]
    public void An_entry_of_format_version_3_is_checked_over_its_payloads_bytes()
    {
        List<EpochLog> epochs = JournalFixture.Seal(2, e => [BlockRequest.Write(e * 4096, 4096)]);
        MemoryStorageDirectory directory = JournalOfAnEarlierBuild(epochs, version: 3);

        // A payload byte flipped in the first entry, a whole one after it: damage, not taken as written.
        JournalFixture.Flip(JournalFixture.File(directory), EpochJournal.HeaderSize + 32 + 100);

        var refused = Assert.Throws<InvalidDataException>(() => JournalFixture.Open(directory, out _));
        Assert.Contains("cannot be read (checksum mismatch", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Another_salt_gives_other_checksums_so_a_journal_never_reads_another_s_entries()
    {
        // No records; 196 bytes standing for a checkpoint, then its length.
        byte[] body = [.. JournalFixture.Pattern(7, 196), 196, 0, 0, 0];

        Assert.NotEqual(JournalFixture.DocumentedEntry(1, body, salt: 1)[16..28], JournalFixture.DocumentedEntry(1, body, salt: 2)[16..28]);
        // The textbook CRC-32C of "123456789".
        Assert.Equal(0xE3069283u, JournalFixture.Crc32C("123456789"u8));
    }

    [Fact]
    public void Where_each_entry_lies_is_known_after_appends_and_after_a_restart()
    {
        (MemoryStorageDirectory directory, _) = _journal.NewDirectory();
        EpochJournal journal = JournalFixture.Open(directory, out _);
        List<EpochLog> epochs = JournalFixture.Seal(3, e => [BlockRequest.Write(0, 512 * (int)e)]);
        var expected = new List<(long Epoch, long Offset, int Length)>();
        foreach (EpochLog epoch in epochs)
        {
            long before = journal.Length;
            journal.Append(epoch);
            expected.Add((epoch.Epoch, before, (int)(journal.Length - before)));
        }

        Assert.Equal(expected, journal.EntriesHeld().Select(e => (e.Epoch, e.Offset, e.Length)));
        Assert.Equal(JournalFixture.File(directory).Size, journal.Length);
        // Each held range is one whole entry: its header states its body's length.
        foreach ((long _, long offset, int length) in expected)
        {
            Assert.Equal(length - EpochJournal.HeaderSize, BinaryPrimitives.ReadInt32LittleEndian(JournalFixture.File(directory).Contents[(int)(offset + 4)..]));
        }

        journal.Dispose();

        using EpochJournal reopened = JournalFixture.Open(directory, out _);
        Assert.Equal(expected, reopened.EntriesHeld().Select(e => (e.Epoch, e.Offset, e.Length)));
        Assert.Equal(expected[^1].Offset + expected[^1].Length, reopened.Length);
    }

    [Fact]
    public void An_append_returns_the_time_its_entry_was_written_before_the_flush()
    {
        (MemoryStorageDirectory directory, _) = _journal.NewDirectory();
        using EpochJournal journal = JournalFixture.Open(directory, out _);
        var time = Substitute.For<TimeProvider>();
        time.GetTimestamp().Returns(1234L);

        long written = journal.Append(JournalFixture.SealedEpochs(1)[0], time);

        Assert.Equal(1234L, written);
        time.Received(1).GetTimestamp();
    }

    [Fact]
    public void A_missing_directory_or_epoch_is_a_caller_s_bug_and_is_refused()
    {
        Assert.Throws<ArgumentNullException>(() => EpochJournal.Open(null!, out _, 0, JournalFixture.Salt));
        (MemoryStorageDirectory directory, _) = _journal.NewDirectory();
        using EpochJournal journal = JournalFixture.Open(directory, out _);

        Assert.Throws<ArgumentNullException>(() => journal.Append(null!));
        Assert.Equal(0, journal.Length);
    }

    private static void AssertRecordHeader(ReadOnlySpan<byte> header, MirrorRecord record)
    {
        Assert.Equal(record.Epoch, BinaryPrimitives.ReadInt64LittleEndian(header));
        Assert.Equal(record.Sequence, BinaryPrimitives.ReadInt64LittleEndian(header[8..]));
        Assert.Equal(record.Request.Offset, BinaryPrimitives.ReadInt64LittleEndian(header[16..]));
        Assert.Equal(record.Request.Length, BinaryPrimitives.ReadInt32LittleEndian(header[24..]));
        Assert.Equal((byte)record.Request.Op, header[28]);
        Assert.Equal(record.Request.Fua ? 1 : 0, header[29]);
    }

    /// <summary>
    /// A journal holding <paramref name="epochs"/> as a build writing format <paramref name="version"/>
    /// (3 or 2) laid them out: appended by this build, then each entry rewritten in that format.
    /// </summary>
    private MemoryStorageDirectory JournalOfAnEarlierBuild(IEnumerable<EpochLog> epochs, int version)
    {
        (MemoryStorageDirectory now, _) = _journal.NewDirectory();
        using (EpochJournal journal = JournalFixture.Open(now, out _))
        {
            foreach (EpochLog epoch in epochs)
            {
                journal.Append(epoch);
            }
        }

        byte[] current = JournalFixture.File(now).Contents.ToArray();
        var earlier = new List<byte>();
        for (int at = 0; at < current.Length;)
        {
            int bodyLength = BinaryPrimitives.ReadInt32LittleEndian(current.AsSpan(at + 4));
            long epoch = BinaryPrimitives.ReadInt64LittleEndian(current.AsSpan(at + 8));
            ReadOnlySpan<byte> body = current.AsSpan(at + EpochJournal.HeaderSize, bodyLength);
            earlier.AddRange(version == 3
                ? JournalFixture.DocumentedPayloadChecksumEntry(epoch, body)
                : JournalFixture.DocumentedFirstFormatEntry(epoch, JournalFixture.FirstFormatBody(body)));
            at += EpochJournal.HeaderSize + bodyLength;
        }

        Assert.Equal(current.Length, earlier.Count);
        Assert.NotEqual(current, earlier.ToArray());
        (MemoryStorageDirectory directory, _) = _journal.NewDirectory();
        JournalFixture.Open(directory, out _).Dispose(); // created empty; the earlier build's entries laid into it
        JournalFixture.File(directory).Write(0, earlier.ToArray(), fua: true);
        return directory;
    }
}
