using Replicator.Core.Blocks;
using Replicator.Core.Epochs;

namespace Replicator.Core.Primary;

/// <summary>
/// Resync (I7): after a new link to the secondary is up, mirror again and copy from the primary's
/// own disk every region the secondary may lack, while the guest keeps running, until both are equal.
/// </summary>
/// <remarks>
/// A resync read is admitted like a guest write: it takes the next sequence number in the current
/// epoch, is charged credit, and joins the overlap tracker. A guest write admitted before it that
/// overlaps is on the disk before the read starts; one admitted after it waits until the read is
/// done. So the record's bytes are the disk at its place in the sequence, and a secondary applying
/// in sequence order ends equal to the primary (see design.md, "Resync").
/// </remarks>
public sealed partial class PrimaryEngine
{
    private readonly Queue<long> _resyncRegions = new();

    // Every change of stream (a loss, a resync start) moves to a new session; a request is mirrored
    // only if it was admitted in the current one.
    private long _session;
    private bool _mirroring = true;
    private ResyncRequest? _waitingResync;
    private bool _wholeCaptureDue;
    private long _resyncFirstEpoch;
    private long _protectedFromEpoch;
    private long _resyncRegion = -1;
    private long _resyncRegionOffset;
    private int _resyncReadsInFlight;
    private long _nextResyncReadId = -1;

    // Bytes the host's rate limit lets sync copies read from now on (long.MaxValue: no limit).
    private long _resyncBudget = long.MaxValue;

    // The secondary checkpoint from which the dirty-region map knows every write: a resync from an
    // older one (or any, while this is long.MaxValue) must copy the whole image.
    private long _changesKnownSinceEpoch;

    /// <summary>Whether the secondary follows: protected, degraded, or resyncing.</summary>
    public PrimaryReplication Replication { get; private set; } = PrimaryReplication.Protected;

    /// <summary>Bytes the running resync has still to read (not yet admitted).</summary>
    public long ResyncBytesLeft { get; private set; }

    /// <summary>Regions the running resync has not yet finished admitting.</summary>
    public int ResyncRegionsLeft => _resyncRegions.Count + (_resyncRegion >= 0 ? 1 : 0);

    private bool HasResyncWorkLeft => ResyncRegionsLeft > 0 || ChecksumWorkLeft;

    /// <summary>
    /// A new link to the secondary is up and it holds checkpoint <paramref name="secondaryEpoch"/>
    /// (ending at <paramref name="secondaryLastSequence"/>) with <paramref name="secondaryBufferBytes"/>
    /// of buffer free; <paramref name="scope"/> says whether to copy the regions written since that
    /// checkpoint or the whole image. Returns null when the resync is under way (it starts at once,
    /// or between epochs if a checkpoint of the lost link is still ending), otherwise why the primary
    /// must not resync into that secondary this way — the engine then stays degraded.
    /// </summary>
    public ResyncRefusal? BeginResync(long secondaryEpoch, long secondaryLastSequence, long secondaryBufferBytes, ResyncScope scope = ResyncScope.DirtyRegions, long secondarySeenEpoch = 0, long secondarySeenSequence = 0)
    {
        if (_mirroring || _waitingResync is not null)
        {
            throw new InvalidOperationException("a resync begins only after the secondary was lost");
        }

        long smallest = 2L * (_options.Geometry.MaxRequestBytes + MirrorRecord.RecordOverheadBytes);
        ResyncRefusal? refusal = secondaryBufferBytes < smallest
                ? new(ResyncRefusalKind.BufferTooSmall, $"the secondary offers {secondaryBufferBytes} bytes of buffer, less than two of the largest records ({smallest})")
            : scope == ResyncScope.WholeImage
                ? null
            : _changesKnownSinceEpoch == long.MaxValue
                ? new(ResyncRefusalKind.ChangesUnknown, "this primary does not know which regions were written before it started (it did not stop cleanly): the whole image must be copied")
            : secondaryEpoch < _changesKnownSinceEpoch
                ? new(ResyncRefusalKind.ChangesUnknown, $"the secondary holds checkpoint {secondaryEpoch}, older than where this primary began tracking changes (checkpoint {_changesKnownSinceEpoch}): the whole image must be copied")
            : !AdoptsSecondaryNumbering && (secondaryEpoch > _lastCheckpointSent || secondaryLastSequence >= _nextSequence)
                ? new(ResyncRefusalKind.ForeignCheckpoint, $"the secondary holds checkpoint {secondaryEpoch} (sequence {secondaryLastSequence}), which this primary never sent (its last was {_lastCheckpointSent}): its epochs say nothing of what it lacks")
            : secondaryEpoch < LastAcknowledgedEpoch
                ? new(ResyncRefusalKind.LostCommitted, $"the secondary holds checkpoint {secondaryEpoch} but had acknowledged {LastAcknowledgedEpoch}: it lost committed checkpoints, so its storage cannot be trusted")
            : null;
        if (refusal is not null)
        {
            return refusal;
        }

        _waitingResync = new ResyncRequest(secondaryEpoch, secondaryLastSequence, secondaryBufferBytes, scope, Math.Max(secondaryEpoch, secondarySeenEpoch), Math.Max(secondaryLastSequence, secondarySeenSequence));
        if (Phase == PrimaryPhase.Running)
        {
            StartResync();
            AdmitQueued();
        }

        return null;
    }

    /// <summary>
    /// A new link to a former primary: a node whose image holds, by the host's word, the checkpoint
    /// this engine's map counts changes from (the one this node took over from) plus its own writes
    /// in <paramref name="formerWrites"/>, which no acknowledgement ever covered. The resync copies
    /// both — every region written here since that checkpoint, and every region the former primary
    /// wrote — so its writes are rolled back and it ends equal to this image. Its own epoch numbers
    /// (<paramref name="secondaryEpoch"/>, its seen ones) are taken as they are: the new stream
    /// starts past them and past this engine's. Returns null when the resync is under way, otherwise
    /// why not (only a whole-image sync can help when the map does not know the changes).
    /// </summary>
    public ResyncRefusal? BeginFormerPrimaryResync(long secondaryEpoch, long secondaryLastSequence, long secondaryBufferBytes, IEnumerable<(long Offset, long Length)> formerWrites, long secondarySeenEpoch, long secondarySeenSequence)
    {
        ArgumentNullException.ThrowIfNull(formerWrites);
        if (_mirroring || _waitingResync is not null)
        {
            throw new InvalidOperationException("a resync begins only after the secondary was lost");
        }

        long smallest = 2L * (_options.Geometry.MaxRequestBytes + MirrorRecord.RecordOverheadBytes);
        if (secondaryBufferBytes < smallest)
        {
            return new(ResyncRefusalKind.BufferTooSmall, $"the secondary offers {secondaryBufferBytes} bytes of buffer, less than two of the largest records ({smallest})");
        }

        if (_changesKnownSinceEpoch == long.MaxValue)
        {
            return new(ResyncRefusalKind.ChangesUnknown, "this primary does not know which regions were written since it took over: the whole image must be copied");
        }

        foreach ((long offset, long length) in formerWrites)
        {
            if (offset < 0 || length <= 0 || offset > _options.Geometry.DiskBytes - length)
            {
                throw new ArgumentOutOfRangeException(nameof(formerWrites), $"a former primary's write at {offset} of {length} bytes is not within the {_options.Geometry.DiskBytes}-byte disk");
            }

            // Unknown until copied, whatever is acknowledged meanwhile: a resync cut short copies them next time.
            for (long at = offset; at < offset + length; at += int.MaxValue / 2)
            {
                _dirtyRegions.MarkDiverged(at, (int)Math.Min(int.MaxValue / 2, offset + length - at));
            }
        }

        // The map's epochs are this engine's own, the former primary's are not: counted from the
        // takeover checkpoint, and renumbered past both, as after a restart from a dirty log.
        AdoptsSecondaryNumbering = true;
        _waitingResync = new ResyncRequest(secondaryEpoch, secondaryLastSequence, secondaryBufferBytes, ResyncScope.DirtyRegions, Math.Max(secondaryEpoch, secondarySeenEpoch), Math.Max(secondaryLastSequence, secondarySeenSequence));
        if (Phase == PrimaryPhase.Running)
        {
            StartResync();
            AdmitQueued();
        }

        return null;
    }

    /// <summary>
    /// The read asked for by <see cref="IPrimaryActions.ReadForResync"/> finished. <paramref name="data"/>
    /// is lent for this call only: the engine passes it to <see cref="IPrimaryActions.SendMirror"/>,
    /// which must copy what it keeps.
    /// </summary>
    public void OnResyncReadCompleted(long readId, bool succeeded, ReadOnlyMemory<byte> data)
    {
        if (!_inFlight.Remove(readId, out InFlightRequest read) || !read.IsResyncRead)
        {
            throw new InvalidOperationException($"resync read {readId} reported done, but it is not in flight");
        }

        _overlaps.Complete(readId, _nowIssuable);
        if (read.IsChecksum)
        {
            CompleteChecksumRead(read, succeeded, data);
        }
        else if (read.IsVerify)
        {
            CompleteVerifyRead(read, succeeded, data);
        }
        else
        {
            CompleteCopyRead(read, succeeded, data);
        }

        IssueNowIssuable();
        if (Phase == PrimaryPhase.Draining && _inFlight.Count == 0)
        {
            BeginCapture();
        }
        else
        {
            AdmitResyncReads();
            AdmitChecksumReads();
            AdmitVerifyReads();
        }
    }

    /// <summary>A resync (or repair) read finished: what it read goes out as a write record; a failed read degrades.</summary>
    private void CompleteCopyRead(in InFlightRequest read, bool succeeded, ReadOnlyMemory<byte> data)
    {
        _resyncReadsInFlight--;
        if (!_mirroring || read.Session != _session)
        {
            return;
        }

        if (succeeded && data.Length == read.Request.Length)
        {
            var record = new MirrorRecord(read.Epoch, read.Sequence, read.Request, data);
            _digest.Add(record);
            _actions.SendMirror(record);
        }
        else
        {
            // The regions cannot be copied now; they stay unknown in the map for the next attempt.
            _dirtyRegions.MarkDiverged(read.Request.Offset, read.Request.Length);
            Degrade($"the primary's disk could not be read for the resync at {read.Request.Offset}+{read.Request.Length}");
        }
    }

    private void StartResync()
    {
        ResyncRequest start = _waitingResync!.Value;
        _waitingResync = null;

        // A fresh epoch number starts the new stream: no frame ever carried it, so nothing of the
        // lost link can be mistaken for part of it. Requests admitted until now stay in the old one.
        _session++;
        _mirroring = true;
        Replication = PrimaryReplication.Resyncing;
        bool whole = start.Scope == ResyncScope.WholeImage;

        // What to copy, taken before any renumbering: after a restart from a dirty log the map's
        // epochs are this engine's own, counted from the log's checkpoint, not the secondary's.
        List<long> toCopy = (whole ? _dirtyRegions.AllRegions() : _dirtyRegions.RegionsNewerThan(AdoptsSecondaryNumbering ? _changesKnownSinceEpoch : start.Epoch)).ToList();
        if (whole || AdoptsSecondaryNumbering)
        {
            // The secondary's numbers are not this engine's: the new stream starts past both. After
            // a whole copy the map knows every change from there on (every region is pending until
            // copied); after a restored log it knew them from an older checkpoint already.
            CurrentEpoch = Math.Max(CurrentEpoch, start.SeenEpoch);
            _nextSequence = Math.Max(_nextSequence, start.SeenSequence + 1);
            _lastCheckpointSent = Math.Max(_lastCheckpointSent, start.Epoch);
            _changesKnownSinceEpoch = whole ? start.Epoch : _changesKnownSinceEpoch;
            AdoptsSecondaryNumbering = false;
        }

        // Past anything the secondary sealed or was announced, whatever this engine knows of its own
        // stream: numbers a cut-short stream used are never used again (I3).
        CurrentEpoch = Math.Max(CurrentEpoch, start.SeenEpoch) + 1;
        _nextSequence = Math.Max(_nextSequence, start.SeenSequence + 1);
        _resyncFirstEpoch = CurrentEpoch;
        _epochFirstSequence = _nextSequence;
        _digest.Reset();
        _epochBufferBytes = 0;
        _credit = _creditLimit = start.BufferBytes;
        _unacknowledged.Clear();
        _checkpointWanted = false;
        _protectedFromEpoch = 0;
        _wholeCaptureDue = true;
        if (!whole && start.Epoch > LastAcknowledgedEpoch)
        {
            // Acknowledgements were lost with the link: the secondary did commit these epochs.
            LastAcknowledgedEpoch = start.Epoch;
            if (_options.DegradedOutputPolicy == DegradedOutputPolicy.Hold)
            {
                _outputs.ReleaseThrough(start.Epoch, _actions);
            }
        }

        // Until a region is copied (or found equal), no acknowledgement may make it look clean. A
        // whole-image sync with checksums compares every region first and copies only what differs.
        // A comparison reads whole regions in one request: with regions larger than a request it is not done.
        bool checksums = whole && _options.ChecksumWholeImageSync && _dirtyRegions.RegionBytes <= _options.Geometry.MaxRequestBytes;
        ChecksumBytesFoundEqual = 0;
        foreach (long region in toCopy)
        {
            _dirtyRegions.MarkPending(region);
            (checksums ? _checksumRegions : _resyncRegions).Enqueue(region);
            ResyncBytesLeft += _dirtyRegions.RangeOf(region).Length;
        }

        _actions.SendResyncStart(new ResyncPlan(start.Epoch, CurrentEpoch, _nextSequence, _resyncRegions.Count, ResyncBytesLeft, whole));
        if (!HasResyncWorkLeft)
        {
            // Nothing to copy (nothing was written since): the first checkpoint alone protects the pair.
            RequestCheckpoint(CheckpointTrigger.ResyncCopied);
        }
    }

    /// <summary>The stream ended: regions not yet copied stay unknown in the map for the next resync.</summary>
    private void StopResync()
    {
        _resyncRegions.Clear();
        StopChecksums();
        _resyncRegion = -1;
        _resyncRegionOffset = 0;
        ResyncBytesLeft = 0;
        _protectedFromEpoch = 0;
        _wholeCaptureDue = false;
    }

    /// <summary>
    /// Admits resync reads while the epoch is open, no guest request waits (the guest goes first),
    /// few enough reads are in flight, and credit allows. A region is marked copied in the epoch
    /// of its last read: when that epoch commits, the secondary holds all of it.
    /// </summary>
    private void AdmitResyncReads()
    {
        while (Phase == PrimaryPhase.Running && (Replication == PrimaryReplication.Resyncing || (_repairing && Replication == PrimaryReplication.Protected)) && _admissionQueue.Count == 0
            && _resyncReadsInFlight < _options.MaxResyncReadsInFlight && ResyncRegionsLeft > 0)
        {
            if (_resyncRegion < 0)
            {
                _resyncRegion = _resyncRegions.Dequeue();
                _resyncRegionOffset = 0;
            }

            (long readOffset, int length) = NextResyncRead();
            if (_resyncBudget < length)
            {
                return; // the rate limit: the host grants more as time passes
            }

            long cost = length + MirrorRecord.RecordOverheadBytes;
            if (_credit < cost)
            {
                // Wait for credit; closing the epoch lets the secondary commit and drain it.
                if (_epochBufferBytes > 0)
                {
                    RequestCheckpoint(CheckpointTrigger.BufferPressure);
                }

                return;
            }

            var request = BlockRequest.Write(readOffset, length);
            TakeResyncRead(length);
            _resyncBudget = _resyncBudget == long.MaxValue ? long.MaxValue : _resyncBudget - length;
            long readId = _nextResyncReadId--;
            _credit -= cost;
            _epochBufferBytes += cost;
            _resyncReadsInFlight++;
            _inFlight.Add(readId, new InFlightRequest(_nextSequence++, CurrentEpoch, request, default, _session, IsResyncRead: true));
            if (_overlaps.Add(readId, request))
            {
                _actions.ReadForResync(readId, request.Offset, request.Length);
            }

            if (_repairing)
            {
                RepairedThroughEpoch = CurrentEpoch;
                _repairing = HasResyncWorkLeft;
            }

            if (!HasResyncWorkLeft)
            {
                RequestCheckpoint(CheckpointTrigger.ResyncCopied);
            }
            else
            {
                CloseEpochIfLarge();
            }
        }
    }

    /// <summary>
    /// Limits what a sync (resync, whole-image sync with or without checksums, repair) may read from now on to
    /// <paramref name="bytes"/> more, or lifts the limit (null). The host's rate limit calls this
    /// as time passes; copies waiting for it are admitted at once.
    /// </summary>
    public void SetResyncBudget(long? bytes)
    {
        _resyncBudget = bytes is { } limited ? Math.Max(0, limited) : long.MaxValue;
        AdmitResyncReads();
        AdmitChecksumReads();
    }

    /// <summary>Adds <paramref name="bytes"/> to a limited budget (no effect without a limit) and admits what it allows.</summary>
    public void AddResyncBudget(long bytes)
    {
        if (_resyncBudget != long.MaxValue)
        {
            _resyncBudget = Math.Min(_resyncBudget + bytes, long.MaxValue - 1);
            AdmitResyncReads();
            AdmitChecksumReads();
        }
    }

    /// <summary>
    /// Where the next resync read starts and how long it is: the rest of the current region and, while
    /// there is room in one request, the regions queued right after it that adjoin it — a fine map
    /// granularity must not mean small records over the link.
    /// </summary>
    private (long Offset, int Length) NextResyncRead()
    {
        int max = _options.Geometry.MaxRequestBytes;
        (long regionOffset, long regionLength) = _dirtyRegions.RangeOf(_resyncRegion);
        long length = Math.Min(max, regionLength - _resyncRegionOffset);
        long tail = _resyncRegion;
        if (_resyncRegionOffset + length == regionLength)
        {
            foreach (long next in _resyncRegions)
            {
                if (next != tail + 1 || length == max)
                {
                    break;
                }

                length += Math.Min(max - length, _dirtyRegions.RangeOf(next).Length);
                tail = next;
            }
        }

        return (regionOffset + _resyncRegionOffset, (int)length);
    }

    /// <summary>The read <see cref="NextResyncRead"/> planned is admitted: each region it reads to the end is copied in this epoch.</summary>
    private void TakeResyncRead(int length)
    {
        ResyncBytesLeft -= length;
        long left = length;
        while (left > 0)
        {
            long regionLength = _dirtyRegions.RangeOf(_resyncRegion).Length;
            long take = Math.Min(left, regionLength - _resyncRegionOffset);
            _resyncRegionOffset += take;
            left -= take;
            if (_resyncRegionOffset < regionLength)
            {
                break;
            }

            _dirtyRegions.MarkCopied(_resyncRegion, CurrentEpoch);
            _resyncRegion = -1;
            _resyncRegionOffset = 0;
            if (left > 0)
            {
                _resyncRegion = _resyncRegions.Dequeue();
            }
        }
    }

    /// <summary>The acknowledgement of the epoch that held the last resync read makes the pair protected again.</summary>
    private void CompleteResyncIfAcknowledged(long epoch)
    {
        if (Replication != PrimaryReplication.Resyncing || _protectedFromEpoch == 0 || epoch < _protectedFromEpoch)
        {
            return;
        }

        Replication = PrimaryReplication.Protected;
        DegradedReason = null;
        _protectedFromEpoch = 0;
        _actions.PairProtected(epoch);
    }

    // SeenEpoch, SeenSequence: the highest the secondary sealed or was announced, past which any new stream starts.
    private readonly record struct ResyncRequest(long Epoch, long LastSequence, long BufferBytes, ResyncScope Scope, long SeenEpoch, long SeenSequence);
}
