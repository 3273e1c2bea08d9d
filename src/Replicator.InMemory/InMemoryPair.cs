using Replicator.Core.Guest;
using Replicator.Core.Primary;
using Replicator.Core.Secondary;
using Replicator.Core.Vm;

namespace Replicator.InMemory;

/// <summary>
/// A whole pair in one process: the synthetic guest, the primary's engine and disk, an ordered
/// link each way, and the secondary's engine, image, journal and VM state store. One seeded
/// scheduler picks which event happens next, so a run is fully determined by its seeds. It checks
/// I1 at every commit, I5 at every output release and the buffer bound at every delivery, and
/// records what it finds in <see cref="Violations"/>.
/// </summary>
public sealed partial class InMemoryPair
{
    private readonly InMemoryPairOptions _options;
    private readonly Random _scheduler;
    private readonly Random _powerCuts;
    private readonly SecondaryOptions _secondaryOptions;
    private readonly PrimarySide _primarySide;
    private readonly SecondarySide _secondarySide;
    private readonly Queue<PairMessage> _toSecondary = new();
    private readonly Queue<PairMessage> _toPrimary = new();
    private readonly List<Choice> _choices = new(8);
    private readonly byte[] _initialDisk;
    private long _requestBudget;

    public InMemoryPair(InMemoryPairOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _scheduler = new Random(options.Seed);
        _powerCuts = new Random(unchecked(options.Seed * 7919 + 17));
        Guest = new SyntheticGuest(options.Guest);
        _initialDisk = Guest.Disk.ToArray();

        // The secondary's image starts as a byte copy of the primary's.
        PrimaryDisk = new MemoryDisk(options.Guest.DiskBytes, Guest.Disk);
        SecondaryImage = new MemoryDisk(options.Guest.DiskBytes, Guest.Disk);
        CommittedHistory = new CrashHistory(Guest.Disk);

        _primarySide = new PrimarySide(this);
        Primary = new PrimaryEngine(
            new PrimaryOptions
            {
                Geometry = options.Guest.Geometry,
                SecondaryBufferBytes = options.SecondaryBufferBytes,
                MaxUnacknowledgedCheckpoints = options.MaxUnacknowledgedCheckpoints,
            },
            _primarySide);

        _secondaryOptions = new SecondaryOptions { Geometry = options.Guest.Geometry, BufferCapacityBytes = options.SecondaryBufferBytes };
        _secondarySide = new SecondarySide(this, new VmState((long)options.Guest.RamPages * options.Guest.PageSize, options.Guest.PageSize));
        Secondary = new SecondaryEngine(_secondaryOptions, _secondarySide);
    }

    public SyntheticGuest Guest { get; }

    public PrimaryEngine Primary { get; }

    public SecondaryEngine Secondary { get; private set; }

    public MemoryDisk PrimaryDisk { get; }

    public MemoryDisk SecondaryImage { get; }

    /// <summary>The committed epochs' requests in commit order: the history a secondary crash state must be legal for (I4).</summary>
    public CrashHistory CommittedHistory { get; }

    public List<string> Violations { get; } = new();

    public long Steps { get; private set; }

    /// <summary>Interval checkpoints fire every <see cref="InMemoryPairOptions.CheckpointIntervalSteps"/> steps while true.</summary>
    public bool AutomaticCheckpoints { get; set; } = true;

    public bool PrimaryCrashed { get; private set; }

    public bool SecondaryDown { get; private set; }

    public string? DegradedReason => _primarySide.DegradedReason;

    public IReadOnlyList<long> ReleasedOutputs => _primarySide.Released;

    /// <summary>Bytes that crossed the link towards the secondary (payloads only).</summary>
    public long MirroredPayloadBytes { get; private set; }

    /// <summary>Lets the guest issue this many more requests.</summary>
    public void IssueRequests(long count) => _requestBudget += count;

    /// <summary>Runs until <paramref name="done"/> holds; false if nothing could happen any more or the step limit was reached first.</summary>
    public bool RunUntil(Func<bool> done, long maxSteps = 1_000_000)
    {
        ArgumentNullException.ThrowIfNull(done);
        for (long i = 0; i < maxSteps; i++)
        {
            if (done())
            {
                return true;
            }

            if (!Step())
            {
                return done();
            }
        }

        return done();
    }

    /// <summary>Runs until nothing more can happen (the guest's budget is used and everything settled); false if the step limit came first.</summary>
    public bool RunToQuiescence(long maxSteps = 1_000_000)
    {
        for (long i = 0; i < maxSteps; i++)
        {
            if (!Step())
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Takes a checkpoint now and runs until the secondary acknowledged it; returns its epoch.</summary>
    public long Checkpoint(long maxSteps = 1_000_000)
    {
        long epoch = Primary.RequestCheckpoint(CheckpointTrigger.Explicit);
        if (epoch == PrimaryEngine.NoCheckpoint || !RunUntil(() => Primary.LastAcknowledgedEpoch >= epoch || Primary.IsDegraded, maxSteps) || Primary.IsDegraded)
        {
            throw new InvalidOperationException($"checkpoint {epoch} was not acknowledged: {Primary.DegradedReason ?? "the pair stopped"}");
        }

        return epoch;
    }

    /// <summary>Performs one event, chosen by the scheduler among those that can happen. False when none can.</summary>
    public bool Step()
    {
        _choices.Clear();
        if (!PrimaryCrashed)
        {
            if (_requestBudget > 0 && !Guest.IsPaused && Primary.InFlightCount + Primary.QueuedCount < _options.QueueDepth)
            {
                _choices.Add(Choice.GuestSubmits);
            }

            if (_primarySide.IssuedCount > 0)
            {
                _choices.Add(Choice.LocalCompletes);
            }

            if (_primarySide.CaptureRequested is not null)
            {
                _choices.Add(Choice.VmCaptured);
            }

            if (_toPrimary.Count > 0)
            {
                _choices.Add(Choice.DeliverToPrimary);
            }
        }

        if (!SecondaryDown)
        {
            if (_toSecondary.Count > 0)
            {
                _choices.Add(Choice.DeliverToSecondary);
            }

            if (_secondarySide.PendingWork > 0)
            {
                _choices.Add(Choice.SecondaryWorks);
            }
        }

        if (_choices.Count == 0)
        {
            return false;
        }

        Steps++;
        switch (_choices[_scheduler.Next(_choices.Count)])
        {
            case Choice.GuestSubmits:
                _requestBudget--;
                _primarySide.GuestSubmits(_scheduler.NextDouble() < _options.OutputProbability);
                break;
            case Choice.LocalCompletes:
                _primarySide.CompleteOne(_scheduler);
                break;
            case Choice.VmCaptured:
                _primarySide.Capture();
                break;
            case Choice.DeliverToPrimary:
                DeliverToPrimary(_toPrimary.Dequeue());
                break;
            case Choice.DeliverToSecondary:
                DeliverToSecondary(_toSecondary.Dequeue());
                break;
            case Choice.SecondaryWorks:
                _secondarySide.DoNext();
                break;
        }

        if (AutomaticCheckpoints && !PrimaryCrashed && Steps % _options.CheckpointIntervalSteps == 0)
        {
            Primary.RequestCheckpoint(CheckpointTrigger.Interval);
        }

        return true;
    }

    /// <summary>The primary dies. Messages already on the link arrive if <paramref name="deliverInFlight"/>, else they are lost with it.</summary>
    public void CrashPrimary(bool deliverInFlight)
    {
        PrimaryCrashed = true;
        _toPrimary.Clear();
        if (!deliverInFlight)
        {
            _toSecondary.Clear();
        }
    }

    /// <summary>
    /// Promotes the secondary (the primary is fenced first: I6) and runs it until failover completes.
    /// Checks I2 and returns what the promoted node holds.
    /// </summary>
    public FailoverOutcome Failover()
    {
        PrimaryCrashed = true;
        _toPrimary.Clear();

        // Whatever was already on the wire arrives before heartbeats time out and promotion starts.
        RunUntil(() => _toSecondary.Count == 0 || SecondaryDown);
        Secondary.Promote();
        RunUntil(() => Secondary.Phase == SecondaryPhase.Promoted);
        if (Secondary.Phase != SecondaryPhase.Promoted)
        {
            throw new InvalidOperationException($"failover did not complete: secondary is {Secondary.Phase}");
        }

        var outcome = new FailoverOutcome(Secondary.LastAppliedEpoch, SecondaryImage.Contents.ToArray(), _secondarySide.VmState.Clone(), Primary.LastAcknowledgedEpoch, Primary.LastCheckpointStarted);
        string? problem = VerifyFailover(outcome);
        if (problem is not null)
        {
            Violations.Add(problem);
        }

        return outcome;
    }

    /// <summary>Null when the outcome obeys I2: one checkpoint e*, last acknowledged ≤ e* ≤ last started, disk and RAM both of e*.</summary>
    public string? VerifyFailover(FailoverOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        if (outcome.Epoch < outcome.PrimaryLastAcknowledged || outcome.Epoch > outcome.PrimaryLastStarted)
        {
            return $"I2: failover landed on epoch {outcome.Epoch}, outside [{outcome.PrimaryLastAcknowledged}, {outcome.PrimaryLastStarted}]";
        }

        if (outcome.VmState.Epoch != outcome.Epoch)
        {
            return $"I2: image of epoch {outcome.Epoch} but VM state of epoch {outcome.VmState.Epoch}";
        }

        if (outcome.Epoch == 0)
        {
            return SecondaryImage.Contents.SequenceEqual(_initialDisk) ? null : "I2: no epoch committed, yet the image changed";
        }

        GuestCheckpoint? expected = Guest.ExpectedAt(outcome.Epoch);
        string? difference = expected is null ? $"no record of checkpoint {outcome.Epoch}" : expected.Compare(outcome.Image, outcome.VmState.Ram, outcome.VmState.CpuState);
        return difference is null ? null : $"I2: {difference}";
    }

    /// <summary>The secondary loses power: its cache and work in progress are gone, and the link resets.</summary>
    public void PowerCutSecondary()
    {
        SecondaryImage.PowerCut(_powerCuts);
        _secondarySide.PowerCut();
        _toSecondary.Clear();
        SecondaryDown = true;
        if (!PrimaryCrashed)
        {
            Primary.OnSecondaryLost("the secondary lost power");
        }
    }

    /// <summary>Restarts the secondary from its durable state record and journal, as the runtime does at start.</summary>
    public void RestartSecondary()
    {
        Secondary = _secondarySide.Recover(_secondaryOptions);
        SecondaryDown = false;
    }

    private void DeliverToPrimary(PairMessage message)
    {
        switch (message)
        {
            case PairMessage.Ack ack:
                Primary.OnCheckpointAcknowledged(ack.Epoch);
                break;
            case PairMessage.Credit credit:
                Primary.OnCreditReturned(credit.Bytes);
                break;
            case PairMessage.Rejected rejected:
                Primary.OnEpochRejected(rejected.Epoch, rejected.Reason);
                break;
        }
    }

    private void DeliverToSecondary(PairMessage message)
    {
        switch (message)
        {
            case PairMessage.Mirror mirror:
                Secondary.OnMirror(mirror.Record);
                break;
            case PairMessage.Checkpoint checkpoint:
                Secondary.OnCheckpoint(checkpoint.Record);
                break;
        }

        if (Secondary.BufferedBytes > Secondary.BufferCapacityBytes)
        {
            Violations.Add($"memory bound: secondary holds {Secondary.BufferedBytes} bytes, bound {Secondary.BufferCapacityBytes}");
        }
    }

    private enum Choice
    {
        GuestSubmits,
        LocalCompletes,
        VmCaptured,
        DeliverToPrimary,
        DeliverToSecondary,
        SecondaryWorks,
    }
}
