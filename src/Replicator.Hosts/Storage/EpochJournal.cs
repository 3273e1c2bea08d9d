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
/// fdatasync — that write is the commit point. It lives in two files used in turn
/// (<see cref="FileName"/> and <see cref="SecondFileName"/>): appends go to the current file from
/// its front; once it holds <see cref="DefaultSwitchAboveBytes"/> and every entry of the other file
/// is applied, appends move to the other file and start again at its front, overwriting blocks it
/// already has. So the write-back lagging behind the commits never makes the journal copy its live
/// entries (a compaction) or append into fresh blocks (an fdatasync that also commits their
/// allocation, several times slower): in steady state both files keep their size and are
/// overwritten in place. A file whose entries are all applied is also reused from its front, unless
/// the next epoch's records are being written behind its end. At
/// start-up each file's whole entries are read back in increasing epoch order (an older entry left
/// behind a reuse, or a torn tail, ends them); the file holding the newest is the current one, the
/// other's entries come first, and no epoch may be missing between them. It runs on the
/// block-device seam, so the simulator's power cuts and disk errors hit this very code.
/// <code>
/// entry: offset size field
///         0     4    magic 0x4A4C5052 ("RPLJ")
///         4     4    body length
///         8     8    epoch
///        16     4    CRC-32C of the journal's salt (8 bytes), the epoch, the body with each record's
///                    payload replaced by its 8-byte record hash, and the body length
///        20     4    format version (4)
///        24     4    CRC-32C of the journal's salt and the 24 bytes above
///        28     n    body: per record its 32-byte mirror header and payload, in sequence order,
///                    then the checkpoint (MessagePack), then u32 checkpoint length
/// </code>
/// The body is laid out so that it can be written front to back before the epoch commits: the
/// records of the epoch that commits next are written behind the journal's end as they arrive
/// (<see cref="Stage"/>, unflushed, no header yet), and its commit adds the checkpoint and the header
/// and flushes once. Until that header is durable the bytes are a torn tail.
/// <para>
/// A record's hash is its <see cref="EpochDigest.RecordHash"/> (XxHash3 of its payload, seeded with
/// the hash of its header fields), little-endian: the secondary computes it once as the record
/// arrives, for the epoch digest, and the checksum takes it in place of the payload, so no payload
/// is read a second time for hashing. The entry is thus checked against what the digest verified,
/// not the bytes written, and each record must come with its own hash: a wrong one makes the entry
/// unreadable (damage with a whole entry after it, a torn tail as the last).
/// </para>
/// Entries an earlier build wrote are still read back: format version 3 (the same layout, the
/// checksum over the payloads' bytes) and version 2 (the checkpoint first, the body length before
/// the body in the checksum).
/// </summary>
public sealed class EpochJournal : IDisposable
{
    public const uint Magic = 0x4A4C5052;
    public const int HeaderSize = 28;
    internal const int FormatVersion = 4;

    /// <summary>The format the build before wrote, its checksum over the payloads' bytes; still read back.</summary>
    internal const int PayloadChecksumFormatVersion = 3;

    /// <summary>The format an earlier build wrote; still read back.</summary>
    internal const int FirstFormatVersion = 2;

    /// <summary>
    /// Appends move to the other file once the current one holds at least this much and the other
    /// holds nothing unapplied. (The simulator sets it small, so its power cuts reach the switch.)
    /// </summary>
    public const long DefaultSwitchAboveBytes = 64L << 20;

    /// <summary>
    /// The buffer records written ahead gather in before they go to the file (larger payloads go
    /// straight from their memory), each piece then started out to the disk. Small enough that an
    /// epoch of a megabyte is mostly on its way to the disk by its commit, large enough that 4 KiB
    /// records cost a copy, not a system call, each. The simulator sets it small, so its small
    /// writes take every path.
    /// </summary>
    public const int DefaultStagingBytes = 256 << 10;

    /// <summary>How much of the file the search for a whole entry past damage reads at a time.</summary>
    public const int SearchWindowBytes = 1 << 20;

    public const string FileName = "journal.bin";

    /// <summary>The journal's second file, created the first time appends move on from <see cref="FileName"/>.</summary>
    public const string SecondFileName = "journal.1.bin";

    /// <summary>Both files, in the order their index is kept.</summary>
    public static IReadOnlyList<string> FileNames { get; } = [FileName, SecondFileName];

    private readonly long _switchAboveBytes;

    // Append runs on the journal writer while Release runs on the image applier.
    private readonly Lock _lock = new();

    private readonly IStorageDirectory _directory;
    private readonly ArrayBufferWriter<byte> _checkpointBody = new(4096);
    private readonly JournalEntryWriter _entry;
    private readonly JournalSegment?[] _segments;
    private readonly long _salt;
    private int _current;

    private EpochJournal(IStorageDirectory directory, JournalSegment?[] segments, long salt, long switchAboveBytes, int stagingBytes)
    {
        _directory = directory;
        _segments = segments;
        _salt = salt;
        _switchAboveBytes = switchAboveBytes;
        _entry = new JournalEntryWriter(salt, stagingBytes);
    }

    /// <summary>How many records were written ahead of their commit since the journal was opened (diagnostics).</summary>
    public long RecordsStaged { get; private set; }

    /// <summary>Commits that found their epoch's records already written ahead, in whole or in part.</summary>
    public long CommitsStaged { get; private set; }

    /// <summary>How many times appends moved to the other file since the journal was opened (diagnostics; the simulator reports it).</summary>
    public int Switches { get; private set; }

    /// <summary>
    /// Entries that could not be read at start-up but held only epochs the image already had, so
    /// were stepped over: nothing was lost, but the medium under the journal is suspect.
    /// </summary>
    public int EntriesSteppedOver { get; private set; }

    /// <summary>
    /// Opened with <see cref="JournalDamagePolicy.KeepAsEvidence"/>: the files are never written again
    /// (appends throw, releases never reuse a file, a torn or damaged tail is not cut).
    /// </summary>
    public bool KeptAsEvidence { get; private init; }

    /// <summary>The damage met at start-up when it was kept as evidence; null when the journal verified to its end.</summary>
    public JournalDamage? Damage { get; private set; }

    /// <summary>The current file, for messages.</summary>
    public string Name
    {
        get
        {
            lock (_lock)
            {
                return Current.Device.Name;
            }
        }
    }

    /// <summary>Where the next append goes in the current file.</summary>
    public long Length
    {
        get
        {
            lock (_lock)
            {
                return Current.End;
            }
        }
    }

    private JournalSegment Current => _segments[_current]!;

    /// <summary>
    /// Opens (or creates) the journal and returns the whole entries it holds, in order.
    /// <paramref name="appliedEpoch"/> is what the state record says the image holds: an entry that
    /// cannot be read is forgiven only where nothing after it shows it was committed and unapplied.
    /// Throws <see cref="InvalidDataException"/> (naming the file, changing nothing) when an entry
    /// that cannot be read lies before a whole, newer, unapplied one, or epochs are missing between
    /// the two files: that is damage, not a torn append. With <see cref="JournalDamagePolicy.KeepAsEvidence"/>
    /// it returns the entries before the damage instead, records it in <see cref="Damage"/>, and never
    /// writes the files.
    /// </summary>
    public static EpochJournal Open(IStorageDirectory directory, out List<JournalEntry> entries, long appliedEpoch, long salt, long switchAboveBytes = DefaultSwitchAboveBytes, JournalDamagePolicy damagePolicy = JournalDamagePolicy.Refuse, int stagingBytes = DefaultStagingBytes)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var segments = new JournalSegment?[2];
        try
        {
            segments[0] = JournalSegment.Open(directory, FileName, salt);
            if (directory.Exists(SecondFileName))
            {
                segments[1] = JournalSegment.Open(directory, SecondFileName, salt);
            }

            var journal = new EpochJournal(directory, segments, salt, switchAboveBytes, stagingBytes)
            {
                KeptAsEvidence = damagePolicy == JournalDamagePolicy.KeepAsEvidence,
            };
            entries = journal.Recover(appliedEpoch);
            return journal;
        }
        catch
        {
            foreach (JournalSegment? segment in segments)
            {
                segment?.Dispose();
            }

            throw;
        }
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

    /// <summary>
    /// Writes a record of the epoch that commits next behind the journal's end, ahead of its commit,
    /// for the epoch log's <paramref name="incarnation"/>; nothing is flushed and nothing counts until
    /// <see cref="Append(EpochLog, TimeProvider?)"/> of that very log, which takes the records written
    /// ahead when they are its first ones in sequence and still lie where its entry goes, and writes
    /// the rest. A record of another incarnation begins anew; one out of sequence, or a write that
    /// fails, ends the writing ahead for its epoch (false): its commit then writes it whole, and
    /// meets the failure itself if the disk fails again.
    /// </summary>
    public bool Stage(long incarnation, in MirrorRecord record, ulong recordHash)
    {
        lock (_lock)
        {
            if (KeptAsEvidence)
            {
                return false;
            }

            if (!_entry.Active || _entry.Incarnation != incarnation)
            {
                // Where the commit will put the entry, as things stand: behind the current file's end,
                // or at the front of the other file once appends are due to move there (everything in
                // it applied). Either way nothing live is overwritten, and a torn tail is all a crash leaves.
                int next = NextAppendFile(startsResync: false);
                if (next != _current && _segments[next] is { } other)
                {
                    _entry.Begin(other, 0, record.Epoch, incarnation);
                }
                else
                {
                    _entry.Begin(Current, Current.End, record.Epoch, incarnation);
                }
            }
            else if (_entry.Broken || record.Sequence != _entry.NextSequence)
            {
                _entry.Broken = true;
                return false;
            }

            try
            {
                _entry.AddRecord(record, recordHash);
                RecordsStaged++;
                return true;
            }
            catch (IOException)
            {
                _entry.Broken = true;
                return false;
            }
        }
    }

    /// <summary>
    /// The checkpoint as the journal keeps it: a <see cref="CheckpointMessage"/>, pages as they are.
    /// One that arrived that way is stored as it arrived (it was decoded from those very bytes, and
    /// a replay decodes them the same way); any other is encoded here.
    /// </summary>
    private ReadOnlySpan<byte> CheckpointBody(CheckpointRecord checkpoint)
    {
        if (!checkpoint.WireForm.IsEmpty)
        {
            return checkpoint.WireForm.Span;
        }

        _checkpointBody.ResetWrittenCount();
        MessagePackSerializer.Serialize(_checkpointBody, CheckpointMessage.From(checkpoint), ControlCodec.Options);
        return _checkpointBody.WrittenSpan;
    }

    private long AppendLocked(EpochLog epoch, TimeProvider? time)
    {
        if (KeptAsEvidence)
        {
            throw new InvalidOperationException($"journal {Current.Device.Name} is kept as evidence and is never appended to");
        }

        ReadOnlySpan<byte> checkpointBody = CheckpointBody(epoch.Checkpoint!);
        JournalSegment segment = SegmentForNextAppend(epoch.Checkpoint!.StartsResync);
        ReadOnlySpan<BufferedRecord> records = epoch.Records;
        int from = StagedPrefix(epoch, segment, records);
        if (from > 0)
        {
            CommitsStaged++;
        }
        else
        {
            _entry.Begin(segment, segment.End, epoch.Epoch, epoch.Incarnation);
        }

        _entry.BeginCommit();
        try
        {
            for (int i = from; i < records.Length; i++)
            {
                _entry.AddRecord(records[i].Record, records[i].Hash);
            }

            return _entry.Finish(checkpointBody, time);
        }
        finally
        {
            // Written or failed, the next entry begins afresh behind whatever the journal's end is then.
            _entry.Drop();
        }
    }

    private bool WritingAheadAtEnd() => _entry is { Active: true, Broken: false } && ReferenceEquals(_entry.Segment, Current) && _entry.Offset == Current.End;

    /// <summary>
    /// How many of the sealed epoch's records (in sequence order) were written ahead where its entry
    /// now goes: the same log's incarnation, from its first record on, none out of sequence, at this
    /// file's end. 0 when anything differs (the records are then written again, whole).
    /// </summary>
    private int StagedPrefix(EpochLog epoch, JournalSegment segment, ReadOnlySpan<BufferedRecord> records)
    {
        bool continues = _entry is { Active: true, Broken: false, RecordCount: > 0 }
            && _entry.Incarnation == epoch.Incarnation && _entry.Epoch == epoch.Epoch
            && ReferenceEquals(_entry.Segment, segment) && _entry.Offset == segment.End
            && _entry.RecordCount <= records.Length
            && records[0].Record.Sequence == _entry.FirstSequence
            && records[_entry.RecordCount - 1].Record.Sequence == _entry.NextSequence - 1;
        return continues ? _entry.RecordCount : 0;
    }

    /// <summary>
    /// The current file, or the other one from its front when the current one has grown past the
    /// switch size and everything in the other is applied. Everything the other file still holds
    /// behind the next appends is then older than them and applied, which is how recovery tells
    /// where they end. The first epoch of a resync never moves on: it may jump over epoch numbers,
    /// so as the first entry of a file it could not show that the other file lost none of its last
    /// entries. Recovery counts on that (<see cref="GapBetweenFiles"/>).
    /// </summary>
    private JournalSegment SegmentForNextAppend(bool startsResync)
    {
        int next = NextAppendFile(startsResync);
        if (next == _current)
        {
            return Current;
        }

        // A new file's name is made durable before anything is committed in it.
        _segments[next] ??= JournalSegment.Open(_directory, FileNames[next], _salt);
        _segments[next]!.End = 0;
        _current = next;
        Switches++;
        return Current;
    }

    /// <summary>Which file the next append goes to (<see cref="SegmentForNextAppend"/>), changing nothing.</summary>
    private int NextAppendFile(bool startsResync) =>
        startsResync || Current.End < _switchAboveBytes || _segments[1 - _current] is { Entries.Count: > 0 } ? _current : 1 - _current;

    /// <summary>
    /// Forgets entries up to <paramref name="appliedEpoch"/>, which the image and the state record
    /// now hold. Call only after that state record is durable: a crash before the journal shrinks
    /// leaves entries that recovery skips as already applied.
    /// </summary>
    public void Release(long appliedEpoch)
    {
        lock (_lock)
        {
            foreach (JournalSegment? segment in _segments)
            {
                segment?.Entries.RemoveAll(e => e.Epoch <= appliedEpoch);
            }

            if (!KeptAsEvidence && Current.Entries.Count == 0 && !WritingAheadAtEnd())
            {
                // Everything is applied (the other file's entries are older than the current one's):
                // reuse the current file from the front — unless the next epoch's records are being
                // written behind its end, where that epoch's commit is to take them; appends then
                // keep going at the end, up to the switch to the other file.
                Current.End = 0;
            }
        }
    }

    public void Dispose()
    {
        foreach (JournalSegment? segment in _segments)
        {
            segment?.Dispose();
        }
    }

    /// <summary>Where each entry not yet released lies, oldest first (diagnostics; the simulator damages them).</summary>
    public JournalEntryLocation[] EntriesHeld()
    {
        lock (_lock)
        {
            var held = new List<JournalEntryLocation>();
            foreach (JournalSegment segment in Ordered())
            {
                held.AddRange(segment.Entries.Select(e => new JournalEntryLocation(e.Epoch, segment.FileName, e.Offset, e.Length)));
            }

            return [.. held];
        }
    }

    /// <summary>The files that exist, the one with the older entries first.</summary>
    private IEnumerable<JournalSegment> Ordered()
    {
        if (_segments[1 - _current] is { } older)
        {
            yield return older;
        }

        yield return Current;
    }

    /// <summary>
    /// Reads both files back: the one holding the newest entry is current, the other's entries come
    /// first. Damage in the older file ends the entries there; epochs missing between the files are
    /// damage too (nothing but a lost or damaged entry leaves such a gap: every append is durable
    /// before the next, and appends move on only once the other file is applied). Only the current
    /// file's tail is cut, and only when nothing is damaged.
    /// </summary>
    private List<JournalEntry> Recover(long appliedEpoch)
    {
        var read = new List<JournalEntry>?[2];
        var damage = new JournalDamage?[2];
        for (int i = 0; i < 2; i++)
        {
            if (_segments[i] is { } segment)
            {
                read[i] = segment.ReadWholeEntries(appliedEpoch, out damage[i], out int steppedOver);
                EntriesSteppedOver += steppedOver;
            }
        }

        _current = _segments[1] is { } second && second.LastEpoch > _segments[0]!.LastEpoch ? 1 : 0;
        int older = 1 - _current;
        var entries = new List<JournalEntry>();
        JournalDamage? found = null;
        if (read[older] is { } olderEntries)
        {
            entries.AddRange(olderEntries);
            found = damage[older];
        }

        if (found is null)
        {
            found = GapBetweenFiles(appliedEpoch, entries, read[_current]!);
        }

        if (found is null)
        {
            entries.AddRange(read[_current]!);
            found = damage[_current];
        }

        if (found is not null)
        {
            if (!KeptAsEvidence)
            {
                throw new InvalidDataException(
                    $"{found}. Nothing was changed: restore the file, re-create the secondary from the primary, or promote it from checkpoint {found.LastVerifiableEpoch} " +
                    "with --failover-discarding-unverifiable-epochs, which discards the rest (docs/operations.md).");
            }

            // What follows the damage cannot be trusted to be all there was.
            Damage = found;
            return entries;
        }

        if (!KeptAsEvidence)
        {
            // Cut the tail (a torn append, or older entries) so the next append lands right after
            // the last whole entry and nothing older can follow it.
            Current.CutTail();
        }

        return entries;
    }

    /// <summary>
    /// Damage when the current file's first unapplied entry does not follow what the older file (or
    /// the image) holds. Only the first entry of a resync may jump, and only where the jump starts
    /// from what the image holds: appends never move to the other file with such an entry, so one
    /// that begins a file was appended there after a reuse from the front, once every entry before it
    /// was applied. Anywhere else a jump means the older file lost entries.
    /// </summary>
    private JournalDamage? GapBetweenFiles(long appliedEpoch, List<JournalEntry> older, List<JournalEntry> current)
    {
        if (_segments[1 - _current] is not { } olderSegment)
        {
            return null; // one file: the replay checks that its first entry follows the image
        }

        long olderLast = older.Count == 0 ? long.MinValue : older[^1].Checkpoint.Epoch;
        long before = Math.Max(appliedEpoch, olderLast);
        int first = current.FindIndex(e => e.Checkpoint.Epoch > appliedEpoch);
        bool resyncFromImage = first >= 0 && current[first].Checkpoint.StartsResync && olderLast <= appliedEpoch;
        if (first < 0 || current[first].Checkpoint.Epoch == before + 1 || resyncFromImage)
        {
            return null;
        }

        // The older file's walk ended where the missing epochs would have begun: that is the damage.
        (long epoch, long offset, _) = Current.Entries[first];
        string why = $"{olderSegment.EndReason ?? "the file ends there"}; epochs {before + 1} to {epoch - 1} are in neither file";
        return new JournalDamage(olderSegment.Device.Name, olderSegment.End, why, epoch, offset, before, Current.Device.Name);
    }
}
