using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Guest;
using Replicator.Core.Primary;
using Replicator.Core.Secondary;
using Replicator.Core.Vm;

namespace Replicator.Core.Tests.Support;

/// <summary>
/// Both engines, the synthetic guest, two disks and a link that can be cut and healed, driven by one
/// seeded scheduler: every step picks one pending thing at random (a guest request, a local
/// completion, a resync read, a frame either way, a capture, a journal write, an apply). Every epoch
/// the secondary applies that is not mid-resync is checked against the guest's own record (I1), and
/// the resync must end with both disks and the VM state equal (I7).
/// </summary>
internal sealed class ResyncPair
{
    public const int PageSize = 4096;
    public const int RamPages = 256;
    public const long BufferBytes = 512 * 1024;

    private readonly Random _random;
    private readonly Dictionary<long, GuestRequest> _requests = new();
    private readonly List<long> _issued = new();
    private readonly Dictionary<long, (long Offset, int Length)> _reads = new();
    private readonly Queue<object> _toSecondary = new();
    private readonly Queue<object> _toPrimary = new();
    private readonly Queue<long> _persisting = new();
    private readonly Queue<long> _applying = new();
    private readonly Dictionary<long, bool> _midResync = new();
    private readonly int _interval;
    private long? _captureRequested;
    private bool _captureWhole;
    private long _budget;
    private long _creditOwed;

    public ResyncPair(int seed, long diskBytes = 1 << 20, int regionBytes = 128 * 1024, int maxRequestBytes = 32 * 1024, int interval = 60)
    {
        _random = new Random(seed);
        _interval = interval;
        Guest = new SyntheticGuest(new SyntheticGuestOptions { Seed = seed, DiskBytes = diskBytes, RamPages = RamPages, PageSize = PageSize, MaxWriteBytes = 16 * 1024, RetainedCheckpoints = 0 });
        PrimaryDisk = new byte[diskBytes];
        SecondaryDisk = new byte[diskBytes];
        SecondaryVm = new VmState((long)RamPages * PageSize, PageSize);
        var geometry = new BlockGeometry(diskBytes, maxRequestBytes);
        Primary = new PrimaryEngine(new PrimaryOptions { Geometry = geometry, SecondaryBufferBytes = BufferBytes, DirtyRegionBytes = regionBytes }, new PrimarySide(this));
        Secondary = new SecondaryEngine(new SecondaryOptions { Geometry = geometry, BufferCapacityBytes = BufferBytes, VmPageCount = RamPages, VmPageSize = PageSize }, new SecondarySide(this));
    }

    public SyntheticGuest Guest { get; }

    public PrimaryEngine Primary { get; }

    public SecondaryEngine Secondary { get; }

    public byte[] PrimaryDisk { get; }

    public byte[] SecondaryDisk { get; }

    public VmState SecondaryVm { get; }

    public bool Connected { get; private set; } = true;

    public long Steps { get; private set; }

    public List<string> Violations { get; } = new();

    public List<long> ProtectedAt { get; } = new();

    public List<ResyncPlan> Plans { get; } = new();

    /// <summary>Epochs applied on the secondary that were checked equal to the guest's record.</summary>
    public int CheckedEpochs { get; private set; }

    public long ResyncBytesRead { get; private set; }

    public void IssueRequests(long count) => _budget += count;

    /// <summary>The cable is pulled: frames in flight either way are lost, acknowledgements included.</summary>
    public void Cut()
    {
        Connected = false;
        _toSecondary.Clear();
        _toPrimary.Clear();
        Primary.OnSecondaryLost("link cut");
        Secondary.OnPrimaryLost();
    }

    /// <summary>
    /// A new link and handshake: the secondary answers (once its journal writes are done, as the
    /// runtime's welcome waits for them) with what it holds; the primary begins the resync.
    /// </summary>
    public string? Reconnect()
    {
        while (_persisting.Count > 0)
        {
            Secondary.OnEpochPersisted(_persisting.Dequeue());
        }

        _creditOwed = 0;
        string? refused = Primary.BeginResync(Secondary.LastCommittedEpoch, Secondary.LastCommittedSequence, BufferBytes - Secondary.BufferedBytes);
        Connected = refused is null;
        return refused;
    }

    public void RunUntil(Func<bool> done, int maxSteps = 200_000)
    {
        for (int i = 0; i < maxSteps && !done(); i++)
        {
            if (!Step())
            {
                return;
            }
        }
    }

    /// <summary>Runs until nothing is pending anywhere; false if that never happened.</summary>
    public bool RunToQuiescence(int maxSteps = 500_000)
    {
        for (int i = 0; i < maxSteps; i++)
        {
            if (!Step())
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>An explicit checkpoint, run until everything settled; returns its epoch.</summary>
    public long CheckpointAndSettle()
    {
        long epoch = Primary.RequestCheckpoint(CheckpointTrigger.Explicit);
        RunToQuiescence();
        return epoch;
    }

    private bool Step()
    {
        if (Steps % _interval == _interval - 1)
        {
            Primary.RequestCheckpoint(CheckpointTrigger.Interval);
        }

        var choices = new List<Action>(8);
        if (_budget > 0 && !Guest.IsPaused && Primary.InFlightCount + Primary.QueuedCount < 8)
        {
            choices.Add(Submit);
        }

        if (_issued.Count > 0)
        {
            choices.Add(CompleteLocal);
        }

        if (_reads.Count > 0)
        {
            choices.Add(CompleteRead);
        }

        if (_toSecondary.Count > 0)
        {
            choices.Add(DeliverToSecondary);
        }

        if (_toPrimary.Count > 0)
        {
            choices.Add(DeliverToPrimary);
        }

        if (_captureRequested is not null)
        {
            choices.Add(Capture);
        }

        if (_persisting.Count > 0)
        {
            choices.Add(() => Secondary.OnEpochPersisted(_persisting.Dequeue()));
        }

        if (_applying.Count > 0)
        {
            choices.Add(() => Secondary.OnApplied(_applying.Dequeue()));
        }

        if (choices.Count == 0)
        {
            return false;
        }

        Steps++;
        choices[_random.Next(choices.Count)]();
        return true;
    }

    private void Submit()
    {
        _budget--;
        GuestRequest request = Guest.NextRequest();
        _requests.Add(request.Id, request);
        if (Primary.Submit(request.Id, request.Request, request.Payload) is { } refused)
        {
            Violations.Add($"guest request {request.Id} refused: {refused}");
        }
    }

    private void CompleteLocal()
    {
        int index = _random.Next(_issued.Count);
        long id = _issued[index];
        _issued.RemoveAt(index);
        GuestRequest request = _requests[id];
        Apply(PrimaryDisk, request.Request, request.Payload);
        Primary.OnLocalCompleted(id, succeeded: true);
    }

    private void CompleteRead()
    {
        long id = _reads.Keys.ElementAt(_random.Next(_reads.Count));
        (long offset, int length) = _reads[id];
        _reads.Remove(id);
        ResyncBytesRead += length;
        Primary.OnResyncReadCompleted(id, succeeded: true, PrimaryDisk.AsMemory(checked((int)offset), length).ToArray());
    }

    private void Capture()
    {
        long epoch = _captureRequested!.Value;
        _captureRequested = null;
        Primary.OnVmCaptured(epoch, _captureWhole ? Guest.CaptureAll(epoch) : Guest.CaptureChanges(epoch));
    }

    private void DeliverToSecondary()
    {
        switch (_toSecondary.Dequeue())
        {
            case MirrorRecord record:
                if (Secondary.OnMirror(record) == MirrorOutcome.Buffered)
                {
                    _creditOwed += record.BufferCost;
                }

                break;
            case CheckpointRecord checkpoint:
                Secondary.OnCheckpoint(checkpoint);
                break;
            case ResyncPlan plan:
                if (Secondary.OnResyncStart(plan.BaseEpoch, plan.FirstEpoch, plan.FirstSequence) is { } refused)
                {
                    Violations.Add($"resync start refused: {refused}");
                }

                break;
        }
    }

    private void DeliverToPrimary()
    {
        switch (_toPrimary.Dequeue())
        {
            case Ack ack:
                Primary.OnCheckpointAcknowledged(ack.Epoch);
                break;
            case Credit credit:
                Primary.OnCreditReturned(credit.Bytes);
                break;
            case Reject reject:
                Primary.OnEpochRejected(reject.Epoch, reject.Reason);
                break;
        }
    }

    private void CheckApplied(long epoch)
    {
        if (_midResync.GetValueOrDefault(epoch))
        {
            return;
        }

        GuestCheckpoint? expected = Guest.ExpectedAt(epoch);
        string? difference = expected is null ? $"no guest record of epoch {epoch}" : expected.Compare(SecondaryDisk, SecondaryVm.Ram, SecondaryVm.CpuState);
        if (difference is not null)
        {
            Violations.Add($"I1/I7: secondary applied epoch {epoch}: {difference}");
        }

        CheckedEpochs++;
    }

    private static void Apply(byte[] disk, in BlockRequest request, ReadOnlySpan<byte> payload)
    {
        Span<byte> target = request.ChangesData ? disk.AsSpan(checked((int)request.Offset), request.Length) : default;
        if (request.Op == BlockOp.Write)
        {
            payload.CopyTo(target);
        }
        else if (request.Op is BlockOp.WriteZeroes or BlockOp.Trim)
        {
            target.Clear();
        }
    }

    private sealed record Ack(long Epoch);

    private sealed record Credit(long Bytes);

    private sealed record Reject(long Epoch, string Reason);

    private sealed class PrimarySide(ResyncPair pair) : IPrimaryActions
    {
        public void IssueLocal(long requestId, BlockRequest request, ReadOnlyMemory<byte> payload) => pair._issued.Add(requestId);

        // The link copies what it sends, as a socket would: a resync read's buffer is only lent.
        public void SendMirror(in MirrorRecord record) => pair._toSecondary.Enqueue(record with { Payload = record.Payload.ToArray() });

        public void CompleteGuest(long requestId, RequestStatus status)
        {
            if (pair._requests.Remove(requestId, out GuestRequest request))
            {
                pair.Guest.OnCompleted(request, status);
            }
        }

        public void PauseGuest() => pair.Guest.Pause();

        public void CaptureVmState(long epoch) => (pair._captureRequested, pair._captureWhole) = (epoch, false);

        public void CaptureWholeVmState(long epoch) => (pair._captureRequested, pair._captureWhole) = (epoch, true);

        public void ResumeGuest() => pair.Guest.ResumeExecution();

        public void SendCheckpoint(CheckpointRecord checkpoint) => pair._toSecondary.Enqueue(checkpoint);

        public void CheckpointCommitted(long epoch)
        {
        }

        public void ReleaseOutput(long outputId, bool protectedByReplica)
        {
        }

        public void SecondaryDegraded(string reason)
        {
        }

        public void SendResyncStart(ResyncPlan plan)
        {
            pair.Plans.Add(plan);
            pair._toSecondary.Enqueue(plan);
        }

        public void ReadForResync(long readId, long offset, int length) => pair._reads.Add(readId, (offset, length));

        public void PairProtected(long epoch) => pair.ProtectedAt.Add(epoch);
    }

    private sealed class SecondarySide(ResyncPair pair) : ISecondaryActions
    {
        public void PersistEpoch(EpochLog epoch)
        {
            pair._midResync[epoch.Epoch] = epoch.Checkpoint!.ResyncPending;
            pair._persisting.Enqueue(epoch.Epoch);
        }

        public void AcknowledgeEpoch(long epoch)
        {
            if (pair.Connected)
            {
                pair._toPrimary.Enqueue(new Ack(epoch));
            }
        }

        public void WriteImage(in MirrorRecord record) => Apply(pair.SecondaryDisk, record.Request, record.Payload.Span);

        public void FlushImage()
        {
        }

        public void ApplyVmSnapshot(VmSnapshot snapshot) => pair.SecondaryVm.Apply(snapshot);

        public void MarkApplied(long epoch, long lastSequence)
        {
            pair.CheckApplied(epoch);
            pair._applying.Enqueue(epoch);
        }

        public void ReturnCredit(long bytes)
        {
            // Only what the current link's records used goes back, as the runtime does.
            long owed = Math.Min(bytes, pair._creditOwed);
            pair._creditOwed -= owed;
            if (owed > 0 && pair.Connected)
            {
                pair._toPrimary.Enqueue(new Credit(owed));
            }
        }

        public void RejectEpoch(long epoch, string reason)
        {
            pair.Violations.Add($"secondary rejected epoch {epoch}: {reason}");
            if (pair.Connected)
            {
                pair._toPrimary.Enqueue(new Reject(epoch, reason));
            }
        }

        public void Promoted(long epoch)
        {
        }
    }
}
