using Replicator.Core.Blocks;
using Replicator.Core.Epochs;

namespace Replicator.Core.Primary;

/// <summary>
/// Online verify and repair, while the pair is protected and the guest runs. A verify read is
/// admitted like a resync read — the next sequence number, credit, the overlap tracker — so what it
/// reads is the primary's disk at its place in the sequence; the record it sends carries the hashes
/// of those blocks (<see cref="BlockOp.Verify"/>), and the secondary, applying in sequence order,
/// compares its image at the same place. Repair copies the regions holding diverged blocks the way
/// a resync does.
/// </summary>
public sealed partial class PrimaryEngine
{
    private long _verifyNext = -1;
    private int _verifyReadsInFlight;
    private byte[] _verifyHashes = [];
    private bool _repairing;

    /// <summary>A verify is admitting reads or waiting for them: <see cref="VerifyBytesLeft"/> to read, or reads in flight.</summary>
    public bool IsVerifying => (_verifyNext >= 0 && _verifyNext < _options.Geometry.DiskBytes) || _verifyReadsInFlight > 0;

    /// <summary>Bytes of the image the running verify has still to read.</summary>
    public long VerifyBytesLeft => _verifyNext < 0 ? 0 : _options.Geometry.DiskBytes - _verifyNext;

    /// <summary>Verify records sent in the current verify (each is answered by one result from the secondary).</summary>
    public long VerifyRecordsSent { get; private set; }

    /// <summary>Verify reads that failed on the primary's own disk (their ranges were not compared).</summary>
    public long VerifyReadsFailed { get; private set; }

    /// <summary>The epoch holding the last repair copy: once it is acknowledged the secondary holds every repaired region.</summary>
    public long RepairedThroughEpoch { get; private set; }

    /// <summary>Whether a repair is still admitting copies.</summary>
    public bool IsRepairing => _repairing && HasResyncWorkLeft;

    /// <summary>
    /// Starts comparing the whole image with the secondary's. Returns null when under way, or why not:
    /// only a protected pair has a secondary image to compare with, and one verify runs at a time.
    /// </summary>
    public string? BeginVerify()
    {
        if (Replication != PrimaryReplication.Protected)
        {
            return $"the pair is not protected ({Replication}): there is no replica to compare with";
        }

        if (IsVerifying || _repairing)
        {
            return "a verify or repair is already running";
        }

        _verifyNext = 0;
        VerifyRecordsSent = 0;
        VerifyReadsFailed = 0;

        AdmitVerifyReads();
        return null;
    }

    /// <summary>
    /// Copies to the secondary every region holding one of <paramref name="divergedBlocks"/> (byte
    /// offsets of verify blocks), ordered with the guest's writes like resync copies. Until a copy is
    /// acknowledged its region stays unknown in the map, so a lost link resyncs it. Returns null when
    /// under way, or why not.
    /// </summary>
    public string? BeginRepair(IEnumerable<long> divergedBlocks)
    {
        ArgumentNullException.ThrowIfNull(divergedBlocks);
        if (Replication != PrimaryReplication.Protected || IsVerifying || HasResyncWorkLeft)
        {
            return Replication != PrimaryReplication.Protected
                ? $"the pair is not protected ({Replication}): nothing to repair into"
                : "a verify or repair is already running";
        }

        var regions = new SortedSet<long>();
        foreach (long block in divergedBlocks)
        {
            long end = Math.Min(block + VerifyBlocks.BlockBytes, _options.Geometry.DiskBytes);
            for (long r = block / _dirtyRegions.RegionBytes; r <= (end - 1) / _dirtyRegions.RegionBytes; r++)
            {
                regions.Add(r);
            }
        }

        foreach (long region in regions)
        {
            _dirtyRegions.MarkPending(region);
            _resyncRegions.Enqueue(region);
            ResyncBytesLeft += _dirtyRegions.RangeOf(region).Length;
        }

        _repairing = regions.Count > 0;
        RepairedThroughEpoch = CurrentEpoch;
        AdmitResyncReads();
        return null;
    }

    // Verify reads are whole verify blocks, as large as a request allows.
    private int ReadBytes => Math.Max(VerifyBlocks.BlockBytes, _options.Geometry.MaxRequestBytes / VerifyBlocks.BlockBytes * VerifyBlocks.BlockBytes);

    /// <summary>Admits verify reads while the epoch is open, no guest request waits, few are in flight, and credit allows.</summary>
    private void AdmitVerifyReads()
    {
        long disk = _options.Geometry.DiskBytes;
        while (Phase == PrimaryPhase.Running && Replication == PrimaryReplication.Protected && _admissionQueue.Count == 0
            && _verifyNext >= 0 && _verifyNext < disk && _verifyReadsInFlight < _options.MaxResyncReadsInFlight)
        {
            int length = (int)Math.Min(Math.Min(ReadBytes, _options.Geometry.MaxRequestBytes), disk - _verifyNext);
            long cost = VerifyBlocks.PayloadLength(length) + MirrorRecord.RecordOverheadBytes;
            if (_credit < cost)
            {
                if (_epochBufferBytes > 0)
                {
                    RequestCheckpoint(CheckpointTrigger.BufferPressure);
                }

                return;
            }

            // Ordered with guest writes as a write of the range would be (see the resync's reads).
            var range = BlockRequest.Write(_verifyNext, length);
            _verifyNext += length;
            long readId = _nextResyncReadId--;
            _credit -= cost;
            _epochBufferBytes += cost;
            _verifyReadsInFlight++;
            _inFlight.Add(readId, new InFlightRequest(_nextSequence++, CurrentEpoch, range, default, _session, IsResyncRead: true, IsVerify: true));
            if (_options.Plant == Testing.PlantedBug.VerifyUnordered || _overlaps.Add(readId, range))
            {
                _actions.ReadForResync(readId, range.Offset, range.Length);
            }

            if (_verifyNext >= disk)
            {
                // The last one is in: its epoch closes now, so the secondary compares it soon.
                RequestCheckpoint(CheckpointTrigger.ResyncCopied);
            }
            else
            {
                CloseEpochIfLarge();
            }
        }
    }

    /// <summary>A verify read finished: its hashes go out as a verify record, or, if it failed, a skipped sequence number.</summary>
    private void CompleteVerifyRead(in InFlightRequest read, bool succeeded, ReadOnlyMemory<byte> data)
    {
        _verifyReadsInFlight--;
        if (!_mirroring || read.Session != _session)
        {
            return;
        }

        if (succeeded && data.Length == read.Request.Length)
        {
            SendHashes(read, data);
            VerifyRecordsSent++;
            return;
        }

        // The sequence number still travels; the range is reported as not compared.
        var skipped = new MirrorRecord(read.Epoch, read.Sequence, new BlockRequest(BlockOp.Skipped, read.Request.Offset, read.Request.Length), default);
        VerifyReadsFailed++;
        _digest.Add(skipped);
        _actions.SendMirror(skipped);
    }

    /// <summary>Sends what a verify or comparison read found as a verify record: the hashes of its blocks, in a buffer the engine reuses.</summary>
    private void SendHashes(in InFlightRequest read, ReadOnlyMemory<byte> data)
    {
        int length = VerifyBlocks.PayloadLength(data.Length);
        if (_verifyHashes.Length < length)
        {
            _verifyHashes = new byte[VerifyBlocks.PayloadLength(Math.Max(data.Length, ReadBytes))];
        }

        VerifyBlocks.Hash(data.Span, _verifyHashes.AsSpan(0, length));
        var record = new MirrorRecord(read.Epoch, read.Sequence, new BlockRequest(BlockOp.Verify, read.Request.Offset, read.Request.Length), _verifyHashes.AsMemory(0, length));
        _digest.Add(record);
        _actions.SendMirror(record);
    }

    /// <summary>The stream ended: a verify or repair under way stops (the host reports it failed).</summary>
    private void StopVerify()
    {
        _verifyNext = -1;
        _repairing = false;
    }
}
