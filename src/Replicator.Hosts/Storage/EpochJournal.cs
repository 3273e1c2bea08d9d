using System.Buffers;
using System.Buffers.Binary;
using MessagePack;
using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Storage;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Storage;

/// <summary>
/// The secondary's commit journal: each committed epoch appended whole and made durable with one
/// fdatasync — that write is the commit point. Entries already applied to the image are released;
/// once all are, the next append starts again at the front, overwriting blocks the file already
/// has (an append into fresh blocks makes its fdatasync commit their allocation too, several times
/// slower). At start-up the whole entries are read back, in increasing epoch order: an older entry
/// left behind the last one by that reuse, or a torn tail, ends them. It runs on the block-device
/// seam, so the simulator's power cuts and disk errors hit this very code.
/// <code>
/// entry: offset size field
///         0     4    magic 0x4A4C5052 ("RPLJ")
///         4     4    body length
///         8     8    epoch
///        16     4    CRC-32C of the journal's salt (8 bytes), the epoch, the body length and the body
///        20     4    format version (2)
///        24     4    CRC-32C of the journal's salt and the 24 bytes above
///        28     n    body: u32 checkpoint length, checkpoint (MessagePack), then per record
///                    its 32-byte mirror header and payload, in sequence order
/// </code>
/// </summary>
public sealed class EpochJournal : IDisposable
{
    public const uint Magic = 0x4A4C5052;
    public const int HeaderSize = 28;
    private const int FormatVersion = 2;

    /// <summary>
    /// The journal is rewritten without its applied entries once they take at least this much and
    /// at least half the file: each byte is then copied a bounded number of times however far the
    /// apply lags behind the commits. (The simulator sets it small, so its power cuts reach compaction.)
    /// </summary>
    public const long DefaultCompactAboveBytes = 64L << 20;

    /// <summary>How much of the file the search for a whole entry past damage reads at a time.</summary>
    public const int SearchWindowBytes = 1 << 20;

    private readonly long _compactAboveBytes;

    // Append runs on the journal writer while Release runs on the image applier.
    private readonly Lock _lock = new();

    public const string FileName = "journal.bin";
    private const string CompactingName = FileName + ".compact";

    // Why bytes are not an entry at all: a torn tail, or no entry begins there.
    private const string NoWholeEntry = "no whole entry header";

    private readonly IStorageDirectory _directory;
    private readonly FrameChecksum _checksum = new();
    private readonly ArrayBufferWriter<byte> _checkpointBody = new(4096);
    private readonly ArrayBufferWriter<byte> _body = new(1 << 20);
    private readonly List<(long Epoch, long Offset, int Length)> _entries = new();
    private IBlockDevice _device;
    private long _end;

    private readonly long _salt;

    private EpochJournal(IStorageDirectory directory, IBlockDevice device, long salt, long compactAboveBytes)
    {
        _directory = directory;
        _device = device;
        _salt = salt;
        _compactAboveBytes = compactAboveBytes;
    }

    /// <summary>How many times this journal was compacted since it was opened (diagnostics; the simulator reports it).</summary>
    public int Compactions { get; private set; }

    /// <summary>
    /// Entries that could not be read at start-up but held only epochs the image already had, so
    /// were stepped over: nothing was lost, but the medium under the journal is suspect.
    /// </summary>
    public int EntriesSteppedOver { get; private set; }

    /// <summary>
    /// Opened with <see cref="JournalDamagePolicy.KeepAsEvidence"/>: the file is never written again
    /// (appends throw, releases never compact, a torn or damaged tail is not cut).
    /// </summary>
    public bool KeptAsEvidence { get; private init; }

    /// <summary>The damage met at start-up when it was kept as evidence; null when the journal verified to its end.</summary>
    public JournalDamage? Damage { get; private set; }

    /// <summary>The journal's file, for messages.</summary>
    public string Name => _device.Name;

    public long Length
    {
        get
        {
            lock (_lock)
            {
                return _end;
            }
        }
    }

    /// <summary>
    /// Opens (or creates) the journal and returns the whole entries it holds, in order.
    /// <paramref name="appliedEpoch"/> is what the state record says the image holds: an entry that
    /// cannot be read is forgiven only where nothing after it shows it was committed and unapplied.
    /// Throws <see cref="InvalidDataException"/> (naming the file, changing nothing) when an entry
    /// that cannot be read lies before a whole, newer, unapplied one: that is damage, not a torn
    /// append. With <see cref="JournalDamagePolicy.KeepAsEvidence"/> it returns the entries before
    /// the damage instead, records it in <see cref="Damage"/>, and never writes the file.
    /// </summary>
    public static EpochJournal Open(IStorageDirectory directory, out List<JournalEntry> entries, long appliedEpoch, long salt, long compactAboveBytes = DefaultCompactAboveBytes, JournalDamagePolicy damagePolicy = JournalDamagePolicy.Refuse)
    {
        ArgumentNullException.ThrowIfNull(directory);
        bool created = !directory.Exists(FileName);
        var journal = new EpochJournal(directory, created ? directory.Create(FileName, 0) : directory.Open(FileName), salt, compactAboveBytes)
        {
            KeptAsEvidence = damagePolicy == JournalDamagePolicy.KeepAsEvidence,
        };
        if (created)
        {
            // The file's name must survive a power cut too, or acknowledged epochs vanish with it.
            directory.Sync();
        }
        else
        {
            // What is read back must be what the disk holds: an append whose flush failed may
            // still sit in the cache, whole, and would otherwise be recovered as committed and then
            // lost to a power cut. Flushed now, or the open fails and the start is retried.
            journal._device.Flush();
        }

        try
        {
            entries = journal.ReadWholeEntries(appliedEpoch);
        }
        catch
        {
            journal.Dispose();
            throw;
        }

        return journal;
    }

    /// <summary>Appends a sealed epoch and makes it durable. Throws IOException (full disk, I/O error): then nothing is committed.</summary>
    public void Append(EpochLog epoch) => Append(epoch, null);

    /// <summary>
    /// As <see cref="Append(EpochLog)"/>, and returns when (a <paramref name="time"/> timestamp) the
    /// entry was in the file and its fdatasync began, so the commit can be split into write and flush.
    /// </summary>
    public long Append(EpochLog epoch, TimeProvider? time)
    {
        ArgumentNullException.ThrowIfNull(epoch);
        lock (_lock)
        {
            return AppendLocked(epoch, time);
        }
    }

    private long AppendLocked(EpochLog epoch, TimeProvider? time)
    {
        if (KeptAsEvidence)
        {
            throw new InvalidOperationException($"journal {Name} is kept as evidence and is never appended to");
        }

        _checkpointBody.ResetWrittenCount();
        MessagePackSerializer.Serialize(_checkpointBody, CheckpointMessage.From(epoch.Checkpoint!), ControlCodec.Options);
        _body.ResetWrittenCount();
        BinaryPrimitives.WriteInt32LittleEndian(_body.GetSpan(4), _checkpointBody.WrittenCount);
        _body.Advance(4);
        _body.Write(_checkpointBody.WrittenSpan);
        foreach (BufferedRecord held in epoch.Records)
        {
            Span<byte> target = _body.GetSpan(MirrorHeader.Size + held.Record.Payload.Length);
            MirrorHeader.Write(held.Record, target);
            held.Record.Payload.Span.CopyTo(target[MirrorHeader.Size..]);
            _body.Advance(MirrorHeader.Size + held.Record.Payload.Length);
        }

        ReadOnlySpan<byte> body = _body.WrittenSpan;

        Span<byte> header = stackalloc byte[HeaderSize];
        BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], body.Length);
        BinaryPrimitives.WriteInt64LittleEndian(header[8..], epoch.Epoch);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], Checksum(epoch.Epoch, body));
        BinaryPrimitives.WriteInt32LittleEndian(header[20..], FormatVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(header[24..], HeaderChecksum(header[..24]));

        _device.Write(_end, header);
        _device.Write(_end + HeaderSize, body);
        long written = time?.GetTimestamp() ?? 0;
        _device.Flush();
        _entries.Add((epoch.Epoch, _end, HeaderSize + body.Length));
        _end += HeaderSize + body.Length;
        return written;
    }

    /// <summary>
    /// Forgets entries up to <paramref name="appliedEpoch"/>, which the image and the state record
    /// now hold. Call only after that state record is durable: a crash before the journal shrinks
    /// leaves entries that recovery skips as already applied.
    /// </summary>
    public void Release(long appliedEpoch)
    {
        lock (_lock)
        {
            _entries.RemoveAll(e => e.Epoch <= appliedEpoch);
            if (KeptAsEvidence)
            {
                return;
            }

            long deadPrefix = _entries.Count == 0 ? _end : _entries[0].Offset;
            if (_entries.Count == 0)
            {
                // Reuse the file from the front; what lies behind the next entries is older than
                // them (and applied), which is how recovery tells where they end.
                _end = 0;
            }
            else if (deadPrefix >= _compactAboveBytes && deadPrefix >= _end / 2)
            {
                Compact();
            }
        }
    }

    public void Dispose() => _device.Dispose();

    private void Compact()
    {
        Compactions++;
        long offset = 0;
        var kept = new List<(long Epoch, long Offset, int Length)>();
        using (IBlockDevice target = _directory.Create(CompactingName, 0))
        {
            foreach ((long epoch, long from, int length) in _entries)
            {
                byte[] entry = new byte[length];
                _device.Read(from, entry);
                target.Write(offset, entry);
                kept.Add((epoch, offset, length));
                offset += length;
            }

            target.Flush();
        }

        _device.Dispose();
        try
        {
            _directory.Replace(CompactingName, FileName);
            _entries.Clear();
            _entries.AddRange(kept);
            _end = offset;
            _directory.Sync();
        }
        finally
        {
            // Whether or not the rename happened, the journal stays open: the old file, or the new.
            _device = _directory.Open(FileName);
        }
    }

    /// <summary>Where each entry not yet released lies in the file, oldest first (diagnostics; the simulator damages them).</summary>
    public (long Epoch, long Offset, int Length)[] EntriesHeld()
    {
        lock (_lock)
        {
            return _entries.ToArray();
        }
    }

    private List<JournalEntry> ReadWholeEntries(long appliedEpoch)
    {
        var entries = new List<JournalEntry>();
        long length = _device.Size;
        long offset = 0;
        long lastEpoch = long.MinValue;
        // The walk ends where no whole entry is and none follows: the file's end included, since
        // TryReadEntry bounds every read by the length.
        while (true)
        {
            string? unreadable = TryReadEntry(offset, length, lastEpoch, out long epoch, out byte[]? body);
            if (unreadable is null)
            {
                entries.Add(ParseBody(offset, epoch, body!));
                _entries.Add((epoch, offset, HeaderSize + body!.Length));
                lastEpoch = epoch;
                offset += HeaderSize + body.Length;
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
                var damage = new JournalDamage(Name, offset, unreadable, next.Epoch, next.Offset, Math.Max(lastEpoch, appliedEpoch));
                if (!KeptAsEvidence)
                {
                    throw new InvalidDataException(
                        $"{damage}. Nothing was changed: restore the file, re-create the secondary from the primary, or promote it from checkpoint {damage.LastVerifiableEpoch} " +
                        "with --failover-discarding-unverifiable-epochs, which discards the rest (docs/operations.md).");
                }

                // What follows the damage cannot be trusted to be all there was: the walk ends here.
                Damage = damage;
                break;
            }

            EntriesSteppedOver++;
            offset = next.Offset;
        }

        if (offset < length && !KeptAsEvidence)
        {
            // Cut the tail (a torn append, or older entries) so the next append lands right after
            // the last whole entry and nothing older can follow it.
            _device.SetSize(offset);
            _device.Flush();
        }

        _end = offset;
        return entries;
    }

    /// <summary>Reads the entry at <paramref name="offset"/>: null when it is whole and newer than <paramref name="lastEpoch"/>, else why not.</summary>
    private string? TryReadEntry(long offset, long length, long lastEpoch, out long epoch, out byte[]? body)
    {
        epoch = 0;
        body = null;
        if (offset + HeaderSize > length)
        {
            return NoWholeEntry;
        }

        Span<byte> header = stackalloc byte[HeaderSize];
        _device.Read(offset, header);
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(header);
        int bodyLength = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
        epoch = BinaryPrimitives.ReadInt64LittleEndian(header[8..]);
        uint checksum = BinaryPrimitives.ReadUInt32LittleEndian(header[16..]);
        int version = BinaryPrimitives.ReadInt32LittleEndian(header[20..]);
        if (magic != Magic || bodyLength < 4 || offset + HeaderSize + bodyLength > length)
        {
            return NoWholeEntry;
        }

        if (version != FormatVersion)
        {
            return $"format version {version}, not {FormatVersion}";
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
        _device.Read(offset + HeaderSize, body);
        if (Checksum(epoch, body) != checksum)
        {
            body = null;
            return "checksum mismatch";
        }

        return null;
    }

    /// <summary>The entry's checksum: over this journal's salt, the header's epoch and length, and the body.</summary>
    private uint Checksum(long epoch, ReadOnlySpan<byte> body)
    {
        Span<byte> prefix = stackalloc byte[20];
        BinaryPrimitives.WriteInt64LittleEndian(prefix, _salt);
        BinaryPrimitives.WriteInt64LittleEndian(prefix[8..], epoch);
        BinaryPrimitives.WriteInt32LittleEndian(prefix[16..], body.Length);
        return _checksum.Compute(prefix, body);
    }

    private uint HeaderChecksum(ReadOnlySpan<byte> header)
    {
        Span<byte> salt = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(salt, _salt);
        return _checksum.Compute(salt, header);
    }

    /// <summary>The first whole entry newer than <paramref name="floor"/> that starts at or after <paramref name="from"/>, if any.</summary>
    private (long Epoch, long Offset)? FindEntryAfter(long from, long length, long floor)
    {
        Span<byte> magic = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(magic, Magic);
        // Met where the walk ends (a torn tail, older entries left behind a reuse, damage), about
        // once per start: not worth a pooled buffer. Nothing is allocated at the file's end.
        byte[] chunk = new byte[Math.Clamp(length - from, 0, SearchWindowBytes)];
        long start = from;
        while (start + HeaderSize <= length)
        {
            int count = (int)Math.Min(chunk.Length, length - start);
            Span<byte> window = chunk.AsSpan(0, count);
            _device.Read(start, window);
            int at = 0;
            while (true)
            {
                int found = window[at..].IndexOf(magic);
                if (found < 0)
                {
                    break;
                }

                long candidate = start + at + found;
                if (TryReadEntry(candidate, length, floor, out long epoch, out _) is null)
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
    private JournalEntry ParseBody(long offset, long epoch, byte[] body)
    {
        try
        {
            return ParseBody(epoch, body);
        }
        catch (Exception e) when (e is InvalidDataException or MessagePackSerializationException or ProtocolViolationException or ArgumentException)
        {
            throw new InvalidDataException($"journal {Name} is damaged: the entry at byte {offset} does not agree with its header: {e.Message}. Nothing was changed.", e);
        }
    }

    private static JournalEntry ParseBody(long epoch, byte[] body)
    {
        int checkpointLength = BinaryPrimitives.ReadInt32LittleEndian(body);
        CheckpointRecord checkpoint = MessagePackSerializer.Deserialize<CheckpointMessage>(body.AsMemory(4, checkpointLength), ControlCodec.Options).ToRecord();
        if (checkpoint.Epoch != epoch)
        {
            throw new InvalidDataException($"journal entry for epoch {epoch} holds the checkpoint of epoch {checkpoint.Epoch}");
        }

        // The body itself says how many records it holds (the checkpoint's count is checked by the replay).
        var records = new List<MirrorRecord>();
        int at = 4 + checkpointLength;
        while (at < body.Length)
        {
            string? bad = MirrorHeader.TryRead(body.AsSpan(at, MirrorHeader.Size), out long recordEpoch, out long sequence, out var request);
            if (bad is not null || recordEpoch != epoch)
            {
                throw new InvalidDataException($"journal entry for epoch {epoch} holds a bad record: {bad ?? $"epoch {recordEpoch}"}");
            }

            at += MirrorHeader.Size;
            records.Add(new MirrorRecord(recordEpoch, sequence, request, body.AsMemory(at, request.PayloadLength)));
            at += request.PayloadLength;
        }

        return new JournalEntry(checkpoint, records);
    }
}
