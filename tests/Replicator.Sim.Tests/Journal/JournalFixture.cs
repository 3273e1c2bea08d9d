using System.Buffers.Binary;
using System.IO.Hashing;
using System.Numerics;
using NSubstitute;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Vm;
using Replicator.Hosts.Storage;
using Replicator.InMemory;
using Replicator.Protocol.Framing;
using Replicator.Sim.Faults;
using Replicator.Sim.Storage;
using Replicator.Sim.World;

namespace Replicator.Sim.Tests.Journal;

/// <summary>
/// The daemon's journal on the simulated disk (power switch, injected errors), the epochs a real
/// engine seals for it, and the file format as its documentation states it, computed here
/// independently of the journal's own code.
/// </summary>
internal sealed class JournalFixture
{
    public const long Salt = 0x5EED;

    public SimScheduler Clock { get; } = new();

    public DiskFaults Faults { get; } = new(new Random(1));

    public (MemoryStorageDirectory Directory, SimPowerSwitch Power) NewDirectory()
    {
        var power = new SimPowerSwitch();
        return (new MemoryStorageDirectory("state", new SimStorageFaults(DiskId.SecondaryJournal, Faults, Clock, power)), power);
    }

    public static EpochJournal Open(MemoryStorageDirectory directory, out List<JournalEntry> entries, long appliedEpoch = 0, long switchAboveBytes = EpochJournal.DefaultSwitchAboveBytes, JournalDamagePolicy policy = JournalDamagePolicy.Refuse) =>
        EpochJournal.Open(directory, out entries, appliedEpoch, Salt, switchAboveBytes, policy);

    /// <summary>A journal of <paramref name="count"/> entries of one size; returns where each begins.</summary>
    public (MemoryStorageDirectory Directory, long[] Offsets) Entries(int count)
    {
        (MemoryStorageDirectory directory, _) = NewDirectory();
        EpochJournal journal = Open(directory, out _);
        foreach (EpochLog epoch in SealedEpochs(count))
        {
            journal.Append(epoch);
        }

        long[] offsets = journal.EntriesHeld().Select(e => e.Offset).ToArray();
        journal.Dispose();
        return (directory, offsets);
    }

    /// <summary>Epochs of one 4 KiB write each, sealed by a real engine as it hands them to the journal.</summary>
    public static List<EpochLog> SealedEpochs(int count) =>
        Seal(count, e => [BlockRequest.Write(e * 4096, 4096)]);

    /// <summary>
    /// Epochs 1..<paramref name="count"/> of the given requests (payloads of a pattern of epoch and
    /// sequence), each with a vCPU state of <paramref name="cpuStateBytes"/> bytes, sealed by a real
    /// engine; <paramref name="received"/> makes each checkpoint what the secondary received instead.
    /// </summary>
    public static List<EpochLog> Seal(int count, Func<long, BlockRequest[]> requests, Func<long, int>? cpuStateBytes = null, int maxRequestBytes = 64 * 1024, Func<CheckpointRecord, CheckpointRecord>? received = null)
    {
        var logs = new List<EpochLog>();
        var actions = Substitute.For<ISecondaryActions>();
        actions.When(a => a.PersistEpoch(Arg.Any<EpochLog>())).Do(call => logs.Add(call.Arg<EpochLog>()));
        var engine = new SecondaryEngine(new SecondaryOptions { Geometry = new BlockGeometry(64L << 20, maxRequestBytes), BufferCapacityBytes = 64 << 20 }, actions);
        long sequence = 0;
        for (long e = 1; e <= count; e++)
        {
            long first = sequence + 1;
            var digest = default(EpochDigest);
            foreach (BlockRequest request in requests(e))
            {
                sequence++;
                byte[] payload = request.Op == BlockOp.Write ? Pattern(e * 1000 + sequence, request.Length) : [];
                var record = new MirrorRecord(e, sequence, request, payload);
                digest.Add(record);
                engine.OnMirror(record);
            }

            var snapshot = new VmSnapshot(e, Pattern(e, cpuStateBytes?.Invoke(e) ?? 0), []);
            var checkpoint = new CheckpointRecord(e, first, sequence, digest.Value, snapshot, snapshot.ComputeDigest());
            engine.OnCheckpoint(received?.Invoke(checkpoint) ?? checkpoint);
        }

        Assert.Equal(count, logs.Count);
        return logs;
    }

    public static byte[] Pattern(long seed, int length)
    {
        byte[] bytes = new byte[length];
        new Random((int)seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>One byte of the file's medium flipped, durably.</summary>
    public static void Flip(MemoryDisk file, long offset)
    {
        byte[] one = [(byte)(file.Contents[(int)offset] ^ 0xFF)];
        file.Write(offset, one, fua: true);
    }

    public static MemoryDisk File(MemoryStorageDirectory directory) => directory.Peek(EpochJournal.FileName)!;

    /// <summary>
    /// An entry as the journal's documentation lays it out, with this journal's salt: the 28-byte
    /// header (magic, body length, epoch, CRC-32C of salt, epoch, body with each record's payload
    /// replaced by its 8-byte record hash, and length, format version 4, CRC-32C of salt and the 24
    /// bytes before it), then the body (records, checkpoint, its length).
    /// </summary>
    public static byte[] DocumentedEntry(long epoch, ReadOnlySpan<byte> body, long salt = Salt)
    {
        int checkpointLength = BinaryPrimitives.ReadInt32LittleEndian(body[^4..]);
        int recordsEnd = checkpointLength >= 0 && checkpointLength <= body.Length - 4 ? body.Length - 4 - checkpointLength : body.Length;
        var covered = new List<byte>();
        covered.AddRange(LittleEndian(salt));
        covered.AddRange(LittleEndian(epoch));
        for (int at = 0; at < recordsEnd;)
        {
            // A record that cannot be read (too short, no such operation, a payload past the records'
            // end) is covered by its bytes, and everything after it up to the records' end.
            ReadOnlySpan<byte> header = recordsEnd - at >= 32 ? body.Slice(at, 32) : [];
            BlockRequest request = default;
            bool unreadable = header.IsEmpty || MirrorHeader.TryRead(header, out _, out _, out request) is not null;
            int payloadLength = unreadable ? 0 : request.PayloadLength;
            if (unreadable || payloadLength < 0 || payloadLength > recordsEnd - at - 32)
            {
                covered.AddRange(body[at..recordsEnd]);
                break;
            }

            covered.AddRange(header);
            covered.AddRange(LittleEndian((long)RecordHash(header, body.Slice(at + 32, payloadLength))));
            at += 32 + payloadLength;
        }

        covered.AddRange(body[recordsEnd..]);
        covered.AddRange(LittleEndian(body.Length)[..4]);
        return Entry(epoch, body, 4, Crc32C(covered.ToArray()), salt);
    }

    /// <summary>
    /// An entry of format version 3, as the build before wrote it: the same layout, its checksum over
    /// salt, epoch, the whole body (payloads included) and its length.
    /// </summary>
    public static byte[] DocumentedPayloadChecksumEntry(long epoch, ReadOnlySpan<byte> body, long salt = Salt)
    {
        byte[] prefix = new byte[16];
        BinaryPrimitives.WriteInt64LittleEndian(prefix, salt);
        BinaryPrimitives.WriteInt64LittleEndian(prefix.AsSpan(8), epoch);
        byte[] length = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(length, body.Length);
        return Entry(epoch, body, 3, Crc32C([.. prefix, .. body, .. length]), salt);
    }

    /// <summary>
    /// A record's hash as the documentation states it: XxHash3 of the 32-byte mirror header (its last
    /// two bytes zero), then XxHash3 of the payload seeded with that, for writes and verifies.
    /// </summary>
    private static ulong RecordHash(ReadOnlySpan<byte> mirrorHeader, ReadOnlySpan<byte> payload)
    {
        byte[] header = mirrorHeader.ToArray();
        header[30] = header[31] = 0;
        ulong headerHash = XxHash3.HashToUInt64(header);
        return (BlockOp)header[28] is BlockOp.Write or BlockOp.Verify ? XxHash3.HashToUInt64(payload, unchecked((long)headerHash)) : headerHash;
    }

    private static byte[] LittleEndian(long value)
    {
        byte[] bytes = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        return bytes;
    }

    /// <summary>
    /// An entry of format version 2, as an earlier build wrote it: its checksum over salt, epoch,
    /// body length, then body; its body the checkpoint's length and the checkpoint, then the records.
    /// </summary>
    public static byte[] DocumentedFirstFormatEntry(long epoch, ReadOnlySpan<byte> body, long salt = Salt)
    {
        byte[] prefix = new byte[20];
        BinaryPrimitives.WriteInt64LittleEndian(prefix, salt);
        BinaryPrimitives.WriteInt64LittleEndian(prefix.AsSpan(8), epoch);
        BinaryPrimitives.WriteInt32LittleEndian(prefix.AsSpan(16), body.Length);
        return Entry(epoch, body, 2, Crc32C([.. prefix, .. body]), salt);
    }

    /// <summary>A body of format version 3 laid out as version 2 has it: the checkpoint (with its length) moved from the end to the front.</summary>
    public static byte[] FirstFormatBody(ReadOnlySpan<byte> body)
    {
        int checkpointLength = BinaryPrimitives.ReadInt32LittleEndian(body[^4..]);
        ReadOnlySpan<byte> records = body[..^(4 + checkpointLength)];
        return [.. body[^4..], .. body[^(4 + checkpointLength)..^4], .. records];
    }

    private static byte[] Entry(long epoch, ReadOnlySpan<byte> body, int version, uint checksum, long salt)
    {
        byte[] entry = new byte[EpochJournal.HeaderSize + body.Length];
        Span<byte> header = entry.AsSpan(0, EpochJournal.HeaderSize);
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0x4A4C5052);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], body.Length);
        BinaryPrimitives.WriteInt64LittleEndian(header[8..], epoch);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], checksum);
        BinaryPrimitives.WriteInt32LittleEndian(header[20..], version);
        byte[] saltBytes = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(saltBytes, salt);
        BinaryPrimitives.WriteUInt32LittleEndian(header[24..], Crc32C([.. saltBytes, .. header[..24]]));
        body.CopyTo(entry.AsSpan(EpochJournal.HeaderSize));
        return entry;
    }

    /// <summary>CRC-32C (Castagnoli) the textbook way, byte by byte, independent of the hashing library the journal uses.</summary>
    public static uint Crc32C(ReadOnlySpan<byte> bytes)
    {
        uint crc = uint.MaxValue;
        foreach (byte b in bytes)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return ~crc;
    }
}
