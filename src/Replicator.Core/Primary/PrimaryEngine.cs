using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Testing;
using Replicator.Core.Vm;

namespace Replicator.Core.Primary;

/// <summary>
/// The primary's state machine: the write filter (sequence numbers, overlap ordering, mirroring)
/// and the checkpoint coordinator (drain, capture, close the epoch, resume, output commit).
/// Events come in through the public methods; actions go out through <see cref="IPrimaryActions"/>.
/// Single-threaded by contract: the driver delivers one event at a time.
/// </summary>
public sealed partial class PrimaryEngine
{
    /// <summary>Returned by <see cref="RequestCheckpoint"/> when no checkpoint can be taken (degraded).</summary>
    public const long NoCheckpoint = -1;

    private readonly PrimaryOptions _options;
    private readonly IPrimaryActions _actions;
    private readonly Dictionary<long, InFlightRequest> _inFlight = new(256);
    private readonly HashSet<long> _knownRequestIds = new(256);
    private readonly Queue<QueuedRequest> _admissionQueue = new();
    private readonly OverlapTracker _overlaps = new();
    private readonly OutputGate _outputs = new();
    private readonly DirtyRegionMap _dirtyRegions;
    private readonly Queue<long> _unacknowledged = new();
    private readonly List<long> _nowIssuable = new(16);
    private EpochDigest _digest;
    private long _epochFirstSequence;
    private long _nextSequence;
    private long _epochBufferBytes;
    private long _credit;
    private long _creditLimit;
    private long _lastCheckpointSent;
    private bool _checkpointWanted;

    // A checkpoint asked the guest to pause (GuestPausesLater) and waits for OnGuestPaused.
    private bool _pausingGuest;

    public PrimaryEngine(PrimaryOptions options, IPrimaryActions actions)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(actions);
        options.Validate();
        _options = options;
        _actions = PlantedPrimaryActions.Wrap(actions, options.Plant, this);
        _credit = _creditLimit = options.SecondaryBufferBytes;
        CurrentEpoch = options.FirstEpoch;
        LastAcknowledgedEpoch = LastCheckpointStarted = _lastCheckpointSent = options.FirstEpoch - 1;
        _epochFirstSequence = _nextSequence = options.FirstSequence;
        _dirtyRegions = new DirtyRegionMap(options.Geometry.DiskBytes, options.DirtyRegionBytes);
        _changesKnownSinceEpoch = options.KnowsChangesSinceFirstEpoch ? options.FirstEpoch - 1 : long.MaxValue;
        if (options.RestoredDirtyRegions is { } restored)
        {
            foreach (long region in restored)
            {
                if (region < 0 || region >= _dirtyRegions.RegionCount)
                {
                    throw new ArgumentOutOfRangeException(nameof(options), region, $"a restored dirty region must be one of the disk's {_dirtyRegions.RegionCount}");
                }

                _dirtyRegions.MarkPending(region);
            }

            AdoptsSecondaryNumbering = true;
        }

        if (options.StartsDegradedBecause is { } reason)
        {
            _mirroring = false;
            Replication = PrimaryReplication.Degraded;
            DegradedReason = reason;
        }
    }

    /// <summary>The sequence number given last (to a guest write or a resync read): at a quiet clean stop, the last one the final checkpoint holds.</summary>
    public long LastSequenceAssigned => _nextSequence - 1;

    /// <summary>
    /// The engine began from a restored dirty log: until its first resync it does not know how far
    /// its stream went before the restart, so that resync takes the secondary's numbers.
    /// </summary>
    public bool AdoptsSecondaryNumbering { get; private set; }

    /// <summary>Granularity of the map of regions the secondary may lack.</summary>
    public int DirtyRegionBytes => _dirtyRegions.RegionBytes;

    /// <summary>
    /// Whether a secondary holding checkpoint <paramref name="throughEpoch"/> may lack the region:
    /// it was written after it, or is unknown (a failed local write, a copy not yet made).
    /// </summary>
    public bool MayLack(long region, long throughEpoch) => _dirtyRegions.IsNewerThan(region, throughEpoch);

    /// <summary>The epoch that admitted requests join.</summary>
    public long CurrentEpoch { get; private set; }

    /// <summary>The last epoch whose checkpoint was started (0 before the first).</summary>
    public long LastCheckpointStarted { get; private set; }

    /// <summary>The last epoch the secondary acknowledged as committed (0 before the first).</summary>
    public long LastAcknowledgedEpoch { get; private set; }

    public PrimaryPhase Phase { get; private set; } = PrimaryPhase.Running;

    /// <summary>
    /// Whether the guest's pause completes later, reported by <see cref="OnGuestPaused"/> (a real
    /// hypervisor, whose stop waits for the guest's requests in flight) rather than when
    /// <see cref="IPrimaryActions.PauseGuest"/> returns (a guest that is paused by the drain itself).
    /// </summary>
    public bool GuestPausesLater { get; set; }

    /// <summary>Why replication stopped, or null while the pair is protected (it stays set during a resync).</summary>
    public string? DegradedReason { get; private set; }

    /// <summary>The pair is not protected: the secondary lacks, or may lack, something the primary holds.</summary>
    public bool IsDegraded => DegradedReason is not null;

    public int InFlightCount => _inFlight.Count;

    public int QueuedCount => _admissionQueue.Count;

    public int UnacknowledgedCheckpoints => _unacknowledged.Count;

    public int HeldOutputs => _outputs.HeldCount;

    /// <summary>Bytes the primary may still send before the secondary's buffer would be full.</summary>
    public long CreditAvailable => _credit;

    /// <summary>
    /// A guest request arrives. Returns null when it is taken (admitted now, or queued while a
    /// checkpoint drains or the secondary's buffer is full), or the reason it was refused, in
    /// which case the guest has already been told <see cref="RequestStatus.Invalid"/>.
    /// The core keeps <paramref name="payload"/> until it completes the request. Request ids are
    /// the driver's, zero or more: negative ones are the engine's own resync reads.
    /// </summary>
    public string? Submit(long requestId, BlockRequest request, ReadOnlyMemory<byte> payload)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(requestId);
        string? invalid = _options.Geometry.Validate(request, payload.Length);
        if (invalid is not null)
        {
            _actions.CompleteGuest(requestId, RequestStatus.Invalid);
            return invalid;
        }

        if (!_knownRequestIds.Add(requestId))
        {
            throw new InvalidOperationException($"request id {requestId} is already in flight");
        }

        if (Phase == PrimaryPhase.Running && _admissionQueue.Count == 0 && HasCreditFor(request))
        {
            Admit(requestId, request, payload);
        }
        else
        {
            _admissionQueue.Enqueue(new QueuedRequest(requestId, request, payload));
            RelieveBufferPressure();
        }

        return null;
    }

    /// <summary>The primary's own disk finished a request issued by <see cref="IPrimaryActions.IssueLocal"/>.</summary>
    public void OnLocalCompleted(long requestId, bool succeeded)
    {
        if (requestId < 0 || !_inFlight.Remove(requestId, out InFlightRequest done))
        {
            throw new InvalidOperationException($"completion for request {requestId}, which is not in flight");
        }

        _knownRequestIds.Remove(requestId);
        if (done.Request.ChangesData)
        {
            _overlaps.Complete(requestId, _nowIssuable);
            if (!succeeded)
            {
                _dirtyRegions.MarkDiverged(done.Request.Offset, done.Request.Length);
            }
        }

        // A request admitted before the link was lost (or while it was down) has no place in the
        // current stream: the dirty-region map already holds its range for the resync.
        if (_mirroring && done.Session == _session)
        {
            Mirror(done, succeeded);
        }

        _actions.CompleteGuest(requestId, succeeded ? RequestStatus.Ok : RequestStatus.IoError);
        IssueNowIssuable();
        if (Phase == PrimaryPhase.Draining && _inFlight.Count == 0)
        {
            BeginCapture();
        }
    }

    /// <summary>The secondary freed this many bytes of its buffer (applied or discarded records).</summary>
    public void OnCreditReturned(long bytes)
    {
        if (!_mirroring)
        {
            return;
        }

        if (bytes <= 0 || _credit + bytes > _creditLimit)
        {
            Degrade($"the secondary returned {bytes} bytes of credit, more than it was given");
            return;
        }

        _credit += bytes;
        AdmitQueued();
    }

    private bool HasCreditFor(in BlockRequest request) =>
        !_mirroring || _credit >= request.PayloadLength + MirrorRecord.RecordOverheadBytes;

    private void Admit(long requestId, in BlockRequest request, ReadOnlyMemory<byte> payload)
    {
        long sequence = _nextSequence++;
        if (_mirroring)
        {
            long cost = request.PayloadLength + MirrorRecord.RecordOverheadBytes;
            _credit -= cost;
            _epochBufferBytes += cost;
        }

        if (request.ChangesData)
        {
            _dirtyRegions.Mark(request.Offset, request.Length, CurrentEpoch);
        }

        _inFlight.Add(requestId, new InFlightRequest(sequence, CurrentEpoch, request, payload, _session));
        if (!request.ChangesData || _options.Plant == PlantedBug.NoOverlapOrder || _overlaps.Add(requestId, request))
        {
            _actions.IssueLocal(requestId, request, payload);
        }

        CloseEpochIfLarge();
    }

    /// <summary>An epoch is closed early once it alone holds its share of the secondary's buffer, so an epoch always fits.</summary>
    private void CloseEpochIfLarge()
    {
        if (Phase == PrimaryPhase.Running && _mirroring && _epochBufferBytes >= _options.EarlyCheckpointFraction * _creditLimit)
        {
            RequestCheckpoint(CheckpointTrigger.BufferPressure);
        }
    }

    /// <summary>Issues the requests (and resync reads) whose overlap with an earlier one just cleared.</summary>
    private void IssueNowIssuable()
    {
        foreach (long id in _nowIssuable)
        {
            InFlightRequest next = _inFlight[id];
            if (next.IsResyncRead)
            {
                _actions.ReadForResync(id, next.Request.Offset, next.Request.Length);
            }
            else
            {
                _actions.IssueLocal(id, next.Request, next.Payload);
            }
        }

        _nowIssuable.Clear();
    }

    private void Mirror(in InFlightRequest done, bool succeeded)
    {
        MirrorRecord record;
        if (succeeded)
        {
            record = new MirrorRecord(done.Epoch, done.Sequence, done.Request, done.Payload);
        }
        else
        {
            // The sequence number still travels, so the secondary sees no gap; the payload's share
            // of the credit comes back at once because the skipped record carries none.
            record = new MirrorRecord(done.Epoch, done.Sequence, new BlockRequest(BlockOp.Skipped, done.Request.Offset, done.Request.Length), default);
            _credit += done.Request.PayloadLength;
            _epochBufferBytes -= done.Request.PayloadLength;
        }

        _digest.Add(record);
        _actions.SendMirror(record);
    }

    private void AdmitQueued()
    {
        while (Phase == PrimaryPhase.Running && _admissionQueue.TryPeek(out QueuedRequest next) && HasCreditFor(next.Request))
        {
            _admissionQueue.Dequeue();
            Admit(next.RequestId, next.Request, next.Payload);
        }

        AdmitResyncReads();
        AdmitChecksumReads();
        AdmitVerifyReads();
        RelieveBufferPressure();
    }

    /// <summary>
    /// Requests wait for buffer credit: close the epoch so it can commit on the secondary and its
    /// bytes drain into the image, which returns the credit. An empty epoch frees nothing.
    /// </summary>
    private void RelieveBufferPressure()
    {
        if (_admissionQueue.Count > 0 && Phase == PrimaryPhase.Running && _mirroring && _epochBufferBytes > 0)
        {
            RequestCheckpoint(CheckpointTrigger.BufferPressure);
        }
    }

    // Session: the stream it was admitted into; only the current one's requests are mirrored.
    // IsResyncRead: a read of the primary's disk for the resync, mirrored as a write of what it read.
    // IsVerify: a resync-style read whose record carries the hashes of what it read, not the bytes.
    // IsChecksum: such a read of a sync that compares before it copies (its answer decides the copy).
    private readonly record struct InFlightRequest(long Sequence, long Epoch, BlockRequest Request, ReadOnlyMemory<byte> Payload, long Session, bool IsResyncRead = false, bool IsVerify = false, bool IsChecksum = false);

    private readonly record struct QueuedRequest(long RequestId, BlockRequest Request, ReadOnlyMemory<byte> Payload);
}
