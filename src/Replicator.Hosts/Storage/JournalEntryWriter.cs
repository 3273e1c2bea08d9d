using System.Buffers.Binary;
using System.IO.Hashing;
using Replicator.Core.Epochs;
using Replicator.Protocol.Framing;

namespace Replicator.Hosts.Storage;

/// <summary>
/// The journal entry being written: its body goes into the file as it comes — records while their
/// epoch is still open, the checkpoint and its length at the commit — with its checksum computed
/// along the way, and <see cref="Finish"/> lays the header in front and flushes once. Small pieces
/// gather in a staging buffer, so a 4 KiB record costs a copy and no system call; pieces of half the
/// buffer or more go to the file straight from where they are. The buffer begins with room for the
/// header (zeroes until the end: never a valid header), so a small entry is written whole in one
/// write at its commit. Each write before the commit asks the disk to start writing it out
/// (<see cref="Core.Storage.IBlockDevice.StartWriteOut"/>), so the one flush at the commit finds
/// the epoch mostly written. Nothing is flushed before <see cref="Finish"/>: until then the entry
/// has no header, and a power cut leaves at most a torn tail. Not thread-safe:
/// <see cref="EpochJournal"/> serialises every call.
/// </summary>
internal sealed class JournalEntryWriter(long salt, int stagingBytes)
{
    // Writes to the file are this large, except the last of an entry and payloads of half of it or more.
    private readonly byte[] _staging = GC.AllocateUninitializedArray<byte>(Math.Max(stagingBytes, 2 * EpochJournal.HeaderSize));
    private readonly Crc32 _checksum = new(Crc32ParameterSet.Crc32C);
    private int _stagedBytes;

    // Where the bytes written out of the staging buffer end in the file: the entry's offset until the
    // first write, which carries the header's room.
    private long _fileEnd;

    // How far the disk was asked to start writing the entry out (StartWriteOut): whole pages only, so
    // the page the next write continues is not under write-out when that write comes.
    private long _writeOutEnd;

    // The commit is writing the entry's last pieces: its flush follows at once, so nothing is started out.
    private bool _committing;

    /// <summary>An entry is begun and not yet finished or dropped.</summary>
    public bool Active { get; private set; }

    /// <summary>A record came out of sequence, or a write failed: the entry can no longer be finished as begun.</summary>
    public bool Broken { get; set; }

    public JournalSegment? Segment { get; private set; }

    /// <summary>Where the entry's header goes.</summary>
    public long Offset { get; private set; }

    public long Epoch { get; private set; }

    /// <summary>The epoch log's incarnation the records came from (<see cref="Core.Secondary.EpochLog.Incarnation"/>).</summary>
    public long Incarnation { get; private set; }

    public int RecordCount { get; private set; }

    public long FirstSequence { get; private set; }

    public long NextSequence { get; private set; }

    /// <summary>The body's bytes so far.</summary>
    public long BodyBytes { get; private set; }

    /// <summary>Begins an entry at <paramref name="offset"/> of <paramref name="segment"/>, dropping any entry begun before.</summary>
    public void Begin(JournalSegment segment, long offset, long epoch, long incarnation)
    {
        Segment = segment;
        Offset = offset;
        Epoch = epoch;
        Incarnation = incarnation;
        RecordCount = 0;
        FirstSequence = NextSequence = 0;
        BodyBytes = 0;
        Broken = false;
        Active = true;
        _staging.AsSpan(0, EpochJournal.HeaderSize).Clear();
        _stagedBytes = EpochJournal.HeaderSize;
        _fileEnd = offset;
        _committing = false;
        _writeOutEnd = offset - (offset % Environment.SystemPageSize);
        _checksum.Reset();
        Span<byte> prefix = stackalloc byte[16];
        BinaryPrimitives.WriteInt64LittleEndian(prefix, salt);
        BinaryPrimitives.WriteInt64LittleEndian(prefix[8..], epoch);
        _checksum.Append(prefix);
    }

    /// <summary>
    /// The commit begins: what is added from now on (records not written ahead, the checkpoint) goes
    /// out with <see cref="Finish"/>'s flush, which follows at once, and is not started out before it.
    /// </summary>
    public void BeginCommit() => _committing = true;

    /// <summary>Drops the entry: what was written of it stays past the journal's end, where nothing reads it.</summary>
    public void Drop() => Active = false;

    /// <summary>
    /// Adds a record: its 32-byte mirror header, then its payload. The checksum takes the header and
    /// <paramref name="recordHash"/> (its <see cref="EpochDigest.RecordHash"/>, computed as it
    /// arrived) in place of the payload (format version 4): the payload's bytes are not read again.
    /// </summary>
    public void AddRecord(in MirrorRecord record, ulong recordHash)
    {
        Span<byte> header = stackalloc byte[MirrorHeader.Size];
        MirrorHeader.Write(record, header);
        Put(header);
        Put(record.Payload.Span, checksummed: false);
        Span<byte> hash = stackalloc byte[sizeof(ulong)];
        BinaryPrimitives.WriteUInt64LittleEndian(hash, recordHash);
        _checksum.Append(hash);
        FirstSequence = RecordCount == 0 ? record.Sequence : FirstSequence;
        NextSequence = record.Sequence + 1;
        RecordCount++;
    }

    /// <summary>
    /// Ends the body with the checkpoint and its length, writes the header in front of it and flushes:
    /// the entry is durable. Returns when (a <paramref name="time"/> timestamp) everything was
    /// written and the flush began.
    /// </summary>
    public long Finish(ReadOnlySpan<byte> checkpoint, TimeProvider? time)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(length, checkpoint.Length);
        _committing = true;
        Put(checkpoint);
        Put(length);
        if (BodyBytes > int.MaxValue)
        {
            throw new IOException($"journal {Segment!.Device.Name}: epoch {Epoch} takes {BodyBytes} bytes, more than an entry can hold");
        }

        int bodyLength = (int)BodyBytes;

        // The checksum ends with the body's length, which is known only now (format version 3 on).
        BinaryPrimitives.WriteInt32LittleEndian(length, bodyLength);
        _checksum.Append(length);
        Span<byte> header = stackalloc byte[EpochJournal.HeaderSize];
        BinaryPrimitives.WriteUInt32LittleEndian(header, EpochJournal.Magic);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], bodyLength);
        BinaryPrimitives.WriteInt64LittleEndian(header[8..], Epoch);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], _checksum.GetCurrentHashAsUInt32());
        BinaryPrimitives.WriteInt32LittleEndian(header[20..], EpochJournal.FormatVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(header[24..], Segment!.HeaderChecksum(header[..24]));
        if (_fileEnd == Offset)
        {
            // Nothing written out yet: the header goes into its room and the entry out in one write.
            header.CopyTo(_staging);
            WriteStaged();
        }
        else
        {
            WriteStaged();
            Segment.Device.Write(Offset, header);
        }

        long written = Segment.Seal(Epoch, Offset, EpochJournal.HeaderSize + bodyLength, time);
        Active = false;
        return written;
    }

    private void Put(ReadOnlySpan<byte> bytes, bool checksummed = true)
    {
        if (checksummed)
        {
            _checksum.Append(bytes);
        }

        BodyBytes += bytes.Length;
        if (bytes.Length >= _staging.Length / 2)
        {
            // What is staged comes before these bytes in the file: out with it first.
            WriteStaged();
            Segment!.Device.Write(_fileEnd, bytes);
            _fileEnd += bytes.Length;
            StartWriteOut();
            return;
        }

        if (bytes.Length > _staging.Length - _stagedBytes)
        {
            WriteStaged();
            StartWriteOut();
        }

        bytes.CopyTo(_staging.AsSpan(_stagedBytes));
        _stagedBytes += bytes.Length;
    }

    /// <summary>
    /// Asks the disk to start writing out what the entry wrote so far, in whole pages, so the commit's
    /// one flush finds most of an epoch already on its way: the records arrive over the epoch, the
    /// flush comes at its end. Nothing is durable before that flush, and a power cut still leaves at
    /// most a torn tail (the header is written last).
    /// </summary>
    private void StartWriteOut()
    {
        if (_committing)
        {
            return;
        }

        long end = _fileEnd - (_fileEnd % Environment.SystemPageSize);
        if (end > _writeOutEnd)
        {
            Segment!.Device.StartWriteOut(_writeOutEnd, end - _writeOutEnd);
            _writeOutEnd = end;
        }
    }

    private void WriteStaged()
    {
        if (_stagedBytes > 0)
        {
            Segment!.Device.Write(_fileEnd, _staging.AsSpan(0, _stagedBytes));
            _fileEnd += _stagedBytes;
            _stagedBytes = 0;
        }
    }
}
