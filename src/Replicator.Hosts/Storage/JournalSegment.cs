using System.Buffers.Binary;
using System.IO.Hashing;
using MessagePack;
using Replicator.Core.Epochs;
using Replicator.Core.Storage;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Storage;

/// <summary>
/// One of the journal's two files: entries appended one after another from the front, each durable
/// before the next begins, in increasing epoch order; reused from the front once every entry it
/// holds is applied. Reading it back walks whole entries from the front: an older entry left behind
/// that reuse, or a torn tail, ends the walk, and an unreadable entry with a whole, newer, unapplied
/// one after it is damage. Not thread-safe: <see cref="EpochJournal"/> serialises every call.
/// </summary>
internal sealed class JournalSegment : IDisposable
{
    // Why bytes are not an entry at all: a torn tail, or no entry begins there.
    private const string NoWholeEntry = "no whole entry header";

    private readonly FrameChecksum _checksum = new();
    private readonly Crc32 _recordHashCrc = new(Crc32ParameterSet.Crc32C);
    private readonly long _salt;

    private JournalSegment(string fileName, IBlockDevice device, long salt)
    {
        FileName = fileName;
        Device = device;
        _salt = salt;
    }

    /// <summary>The file's name in the state directory.</summary>
    public string FileName { get; }

    public IBlockDevice Device { get; private set; }

    /// <summary>The entries not yet released, oldest first.</summary>
    public List<(long Epoch, long Offset, int Length)> Entries { get; } = new();

    /// <summary>Where the next entry goes.</summary>
    public long End { get; set; }

    /// <summary>Why the walk of <see cref="ReadWholeEntries"/> ended at <see cref="End"/>: what the bytes there are not.</summary>
    public string? EndReason { get; private set; }

    /// <summary>The last epoch read back or appended, or <see cref="long.MinValue"/> when it holds none.</summary>
    public long LastEpoch => Entries.Count == 0 ? long.MinValue : Entries[^1].Epoch;

    /// <summary>
    /// Opens the file, creating it (and syncing the directory, so its name survives a power cut) when
    /// missing. An existing file is flushed first: what is read back must be what the disk holds, not
    /// an append whose flush failed and still sits in the cache.
    /// </summary>
    public static JournalSegment Open(IStorageDirectory directory, string fileName, long salt)
    {
        bool created = !directory.Exists(fileName);
        var segment = new JournalSegment(fileName, created ? directory.Create(fileName, 0) : directory.Open(fileName), salt);
        try
        {
            if (created)
            {
                directory.Sync();
            }
            else
            {
                segment.Device.Flush();
            }
        }
        catch
        {
            segment.Dispose();
            throw;
        }

        return segment;
    }

    public void Dispose() => Device.Dispose();

    /// <summary>
    /// Makes the entry written at <see cref="End"/> (header and body, <paramref name="length"/> bytes)
    /// durable and takes it in; returns when (a <paramref name="time"/> timestamp) its flush began.
    /// </summary>
    public long Seal(long epoch, long offset, int length, TimeProvider? time)
    {
        if (offset != End)
        {
            throw new InvalidOperationException($"journal {Device.Name}: an entry begun at byte {offset} is sealed where appends stand at {End}");
        }

        long written = time?.GetTimestamp() ?? 0;
        Device.Flush();
        Entries.Add((epoch, End, length));
        End += length;
        return written;
    }

    /// <summary>Cuts what follows the last whole entry (a torn append, or older entries), so nothing older can follow the next append.</summary>
    public void CutTail()
    {
        if (End < Device.Size)
        {
            Device.SetSize(End);
            Device.Flush();
        }
    }

    /// <summary>
    /// Reads the whole entries from the front, in increasing epoch order, and records them in
    /// <see cref="Entries"/> and <see cref="End"/>. Stops at <paramref name="damage"/> (set) when an
    /// entry that cannot be read lies before a whole, newer, unapplied one — unless only epochs the
    /// image already holds lie in between, which are stepped over and counted in <paramref name="steppedOver"/>.
    /// Changes nothing in the file.
    /// </summary>
    public List<JournalEntry> ReadWholeEntries(long appliedEpoch, out JournalDamage? damage, out int steppedOver)
    {
        damage = null;
        steppedOver = 0;
        var entries = new List<JournalEntry>();
        long length = Device.Size;
        long offset = 0;
        long lastEpoch = long.MinValue;
        // The walk ends where no whole entry is and none follows: the file's end included, since
        // TryReadEntry bounds every read by the length.
        while (true)
        {
            string? unreadable = TryReadEntry(offset, length, lastEpoch, out long epoch, out byte[]? body, out int version);
            if (unreadable is null)
            {
                entries.Add(ParseBody(offset, epoch, body!, version));
                Entries.Add((epoch, offset, EpochJournal.HeaderSize + body!.Length));
                lastEpoch = epoch;
                offset += EpochJournal.HeaderSize + body.Length;
                continue;
            }

            // What ends the walk is a torn append, or older entries left behind a reuse from the
            // front — unless a whole entry that was committed and not yet applied lies further on.
            // Appends follow one another, each durable before the next begins, so whatever lies
            // before such an entry was durable once: it is damaged, not torn.
            long floor = Math.Max(lastEpoch, appliedEpoch);
            // Checked by value rather than with a pattern, so that every mutant of this walk still
            // compiles under mutation testing (docs/mutation.md).
            (long Epoch, long Offset)? found = FindEntryAfter(offset + 1, length, floor);
            EndReason = unreadable;
            if (found is null)
            {
                break;
            }

            (long Epoch, long Offset) next = found.Value;

            // Only epochs the image already holds are missing in between: nothing is lost by stepping
            // over. (The entry found is newer than the floor, so this also means lastEpoch <= appliedEpoch.)
            bool onlyAppliedMissing = next.Epoch == appliedEpoch + 1;
            if (!onlyAppliedMissing)
            {
                // What follows the damage cannot be trusted to be all there was: the walk ends here.
                damage = new JournalDamage(Device.Name, offset, unreadable, next.Epoch, next.Offset, Math.Max(lastEpoch, appliedEpoch));
                break;
            }

            steppedOver++;
            offset = next.Offset;
        }

        End = offset;
        return entries;
    }

    /// <summary>
    /// The entry's checksum (format version 4, <see cref="JournalEntryWriter"/> computes it as it
    /// writes): over this journal's salt, the header's epoch, the body with each record's payload
    /// replaced by the record's 8-byte <see cref="EpochDigest.RecordHash"/>, and the body's length.
    /// Defined for any body, so that one whose checksum holds yet does not parse is told apart from a
    /// torn one: from a record that cannot be read on (or, with no checkpoint length that fits, from
    /// the body's front) the bytes themselves are covered, to the records' end.
    /// </summary>
    private uint RecordHashChecksum(long epoch, byte[] body)
    {
        _recordHashCrc.Reset();
        Span<byte> word = stackalloc byte[16];
        BinaryPrimitives.WriteInt64LittleEndian(word, _salt);
        BinaryPrimitives.WriteInt64LittleEndian(word[8..], epoch);
        _recordHashCrc.Append(word);
        int recordsEnd = TryLayOut(body, EpochJournal.FormatVersion, out Layout layout) is null ? layout.RecordsEnd : body.Length;
        for (int at = 0; at < recordsEnd;)
        {
            int recordAt = at;
            if (TryReadRecord(body, ref at, recordsEnd, out MirrorRecord record) is not null)
            {
                _recordHashCrc.Append(body.AsSpan(recordAt, recordsEnd - recordAt));
                break;
            }

            _recordHashCrc.Append(body.AsSpan(recordAt, MirrorHeader.Size));
            BinaryPrimitives.WriteUInt64LittleEndian(word, EpochDigest.RecordHash(record));
            _recordHashCrc.Append(word[..8]);
        }

        _recordHashCrc.Append(body.AsSpan(recordsEnd));
        BinaryPrimitives.WriteInt32LittleEndian(word, body.Length);
        _recordHashCrc.Append(word[..4]);
        return _recordHashCrc.GetCurrentHashAsUInt32();
    }

    /// <summary>The checksum of format version 3, read back from journals an earlier build wrote: over the salt, the epoch, the body (payloads included), and the body's length.</summary>
    private uint PayloadChecksum(long epoch, ReadOnlySpan<byte> body)
    {
        Span<byte> prefix = stackalloc byte[16];
        BinaryPrimitives.WriteInt64LittleEndian(prefix, _salt);
        BinaryPrimitives.WriteInt64LittleEndian(prefix[8..], epoch);
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(length, body.Length);
        return _checksum.Compute(prefix, body, length);
    }

    /// <summary>The checksum of format version 2, read back from journals an earlier build wrote: over the salt, the epoch, the body's length, then the body.</summary>
    private uint FirstFormatChecksum(long epoch, ReadOnlySpan<byte> body)
    {
        Span<byte> prefix = stackalloc byte[20];
        BinaryPrimitives.WriteInt64LittleEndian(prefix, _salt);
        BinaryPrimitives.WriteInt64LittleEndian(prefix[8..], epoch);
        BinaryPrimitives.WriteInt32LittleEndian(prefix[16..], body.Length);
        return _checksum.Compute(prefix, body);
    }

    public uint HeaderChecksum(ReadOnlySpan<byte> header)
    {
        Span<byte> salt = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(salt, _salt);
        return _checksum.Compute(salt, header);
    }

    /// <summary>Reads the entry at <paramref name="offset"/>: null when it is whole and newer than <paramref name="lastEpoch"/>, else why not.</summary>
    private string? TryReadEntry(long offset, long length, long lastEpoch, out long epoch, out byte[]? body, out int version)
    {
        epoch = 0;
        body = null;
        version = 0;
        if (offset + EpochJournal.HeaderSize > length)
        {
            return NoWholeEntry;
        }

        Span<byte> header = stackalloc byte[EpochJournal.HeaderSize];
        Device.Read(offset, header);
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(header);
        int bodyLength = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
        epoch = BinaryPrimitives.ReadInt64LittleEndian(header[8..]);
        uint checksum = BinaryPrimitives.ReadUInt32LittleEndian(header[16..]);
        version = BinaryPrimitives.ReadInt32LittleEndian(header[20..]);
        if (magic != EpochJournal.Magic || bodyLength < 4 || offset + EpochJournal.HeaderSize + bodyLength > length)
        {
            return NoWholeEntry;
        }

        if (version is not (EpochJournal.FormatVersion or EpochJournal.PayloadChecksumFormatVersion or EpochJournal.FirstFormatVersion))
        {
            return $"format version {version}, not {EpochJournal.FormatVersion}";
        }

        // Checked before the body is read: bytes that only look like an entry (stale data, the
        // guest's) cost a header's read, however long they claim to be.
        if (HeaderChecksum(header[..24]) != BinaryPrimitives.ReadUInt32LittleEndian(header[24..]))
        {
            return "header checksum mismatch";
        }

        if (epoch <= lastEpoch)
        {
            return $"epoch {epoch} does not follow epoch {lastEpoch}";
        }

        body = new byte[bodyLength];
        Device.Read(offset + EpochJournal.HeaderSize, body);
        uint expected = version switch
        {
            EpochJournal.FormatVersion => RecordHashChecksum(epoch, body),
            EpochJournal.PayloadChecksumFormatVersion => PayloadChecksum(epoch, body),
            _ => FirstFormatChecksum(epoch, body),
        };
        if (expected != checksum)
        {
            body = null;
            return "checksum mismatch";
        }

        return null;
    }

    /// <summary>The first whole entry newer than <paramref name="floor"/> that starts at or after <paramref name="from"/>, if any.</summary>
    private (long Epoch, long Offset)? FindEntryAfter(long from, long length, long floor)
    {
        Span<byte> magic = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(magic, EpochJournal.Magic);
        // Met where the walk ends (a torn tail, older entries left behind a reuse, damage), about
        // once per start: not worth a pooled buffer. Nothing is allocated at the file's end.
        byte[] chunk = new byte[Math.Clamp(length - from, 0, EpochJournal.SearchWindowBytes)];
        long start = from;
        while (start + EpochJournal.HeaderSize <= length)
        {
            int count = (int)Math.Min(chunk.Length, length - start);
            Span<byte> window = chunk.AsSpan(0, count);
            Device.Read(start, window);
            int at = 0;
            while (true)
            {
                int found = window[at..].IndexOf(magic);
                if (found < 0)
                {
                    break;
                }

                long candidate = start + at + found;
                if (TryReadEntry(candidate, length, floor, out long epoch, out _, out _) is null)
                {
                    return (epoch, candidate);
                }

                at += found + 1;
            }

            // The next window overlaps this one by less than a magic, so none is missed at the seam.
            start += Math.Max(1, count - (magic.Length - 1));
        }

        return null;
    }

    /// <summary>An entry whose checksum holds but whose contents do not decode, or disagree with its header: never written so by this journal, so refused as damage.</summary>
    private JournalEntry ParseBody(long offset, long epoch, byte[] body, int version)
    {
        try
        {
            return ParseBody(epoch, body, version);
        }
        catch (Exception e) when (e is InvalidDataException or MessagePackSerializationException or ProtocolViolationException or ArgumentException)
        {
            throw new InvalidDataException($"journal {Device.Name} is damaged: the entry at byte {offset} does not agree with its header: {e.Message}. Nothing was changed.", e);
        }
    }

    /// <summary>
    /// Versions 3 and 4: the records, then the checkpoint, then its length in the body's last 4 bytes.
    /// Version 2 (an earlier build's): the checkpoint's length and the checkpoint first, then the records.
    /// </summary>
    private static JournalEntry ParseBody(long epoch, byte[] body, int version)
    {
        string? bad = TryLayOut(body, version, out Layout layout);
        if (bad is not null)
        {
            throw new InvalidDataException($"journal entry for epoch {epoch} {bad}");
        }

        CheckpointRecord checkpoint = MessagePackSerializer.Deserialize<CheckpointMessage>(body.AsMemory(layout.CheckpointAt, layout.CheckpointLength), ControlCodec.Options).ToRecord();
        if (checkpoint.Epoch != epoch)
        {
            throw new InvalidDataException($"journal entry for epoch {epoch} holds the checkpoint of epoch {checkpoint.Epoch}");
        }

        // The body itself says how many records it holds (the checkpoint's count is checked by the replay).
        var records = new List<MirrorRecord>();
        for (int at = layout.RecordsAt; at < layout.RecordsEnd;)
        {
            bad = TryReadRecord(body, ref at, layout.RecordsEnd, out MirrorRecord record);
            if (bad is not null || record.Epoch != epoch)
            {
                throw new InvalidDataException($"journal entry for epoch {epoch} holds a bad record: {bad ?? $"epoch {record.Epoch}"}");
            }

            records.Add(record);
        }

        return new JournalEntry(checkpoint, records);
    }

    /// <summary>Where a body of <paramref name="version"/> keeps its checkpoint and its records; null when it fits, else what does not.</summary>
    private static string? TryLayOut(byte[] body, int version, out Layout layout)
    {
        layout = default;
        if (version == EpochJournal.FirstFormatVersion)
        {
            int length = BinaryPrimitives.ReadInt32LittleEndian(body);
            if (length < 0 || length > body.Length - 4)
            {
                return $"gives its checkpoint {length} bytes in a body of {body.Length}";
            }

            layout = new Layout(CheckpointAt: 4, CheckpointLength: length, RecordsAt: 4 + length, RecordsEnd: body.Length);
            return null;
        }

        int checkpointLength = BinaryPrimitives.ReadInt32LittleEndian(body.AsSpan(body.Length - 4));
        if (checkpointLength < 0 || checkpointLength > body.Length - 4)
        {
            return $"gives its checkpoint {checkpointLength} bytes in a body of {body.Length}";
        }

        int checkpointAt = body.Length - 4 - checkpointLength;
        layout = new Layout(checkpointAt, checkpointLength, RecordsAt: 0, RecordsEnd: checkpointAt);
        return null;
    }

    /// <summary>The record at <paramref name="at"/>, which moves past it; null when it is whole, else what is wrong with it.</summary>
    private static string? TryReadRecord(byte[] body, ref int at, int recordsEnd, out MirrorRecord record)
    {
        record = default;
        if (recordsEnd - at < MirrorHeader.Size)
        {
            return $"its records end with {recordsEnd - at} bytes, less than a record's header";
        }

        string? bad = MirrorHeader.TryRead(body.AsSpan(at, MirrorHeader.Size), out long recordEpoch, out long sequence, out var request);
        if (bad is null && request.PayloadLength < 0)
        {
            bad = $"a payload of {request.PayloadLength} bytes";
        }
        else if (bad is null && request.PayloadLength > recordsEnd - at - MirrorHeader.Size)
        {
            bad = $"a payload of {request.PayloadLength} bytes runs past the records' end";
        }

        if (bad is not null)
        {
            return bad;
        }

        record = new MirrorRecord(recordEpoch, sequence, request, body.AsMemory(at + MirrorHeader.Size, request.PayloadLength));
        at += MirrorHeader.Size + request.PayloadLength;
        return null;
    }

    /// <summary>Where a body's checkpoint and records lie.</summary>
    private readonly record struct Layout(int CheckpointAt, int CheckpointLength, int RecordsAt, int RecordsEnd);
}
