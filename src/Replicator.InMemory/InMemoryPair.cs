using Microsoft.Extensions.Logging.Abstractions;
using Replicator.Core.Guest;
using Replicator.Core.Primary;
using Replicator.Core.Secondary;
using Replicator.Hosts.Primary;
using Replicator.Hosts.Secondary;
using Replicator.Protocol.Framing;

namespace Replicator.InMemory;

/// <summary>
/// A whole pair in one process, on the daemons' own hosts: the synthetic guest and the primary's disk
/// around a <see cref="Hosts.Primary.PrimaryHost"/>; a <see cref="Hosts.Secondary.SecondaryHost"/> with its
/// real journal, state record and recovery on in-memory storage; links carrying the daemons' encoded
/// frames. One seeded scheduler picks which event happens next, so a run is fully determined by its
/// seeds. The driver decides nothing a host decides — no handshake, credit, or order of journal and
/// acknowledgement: it delivers frames, completes local I/O, captures and storage operations, fires
/// the hosts' timers, and observes. It checks I1 at every commit and every apply, I5 at every output
/// release and the buffer bound at every delivery, and records what it finds in <see cref="Violations"/>.
/// </summary>
public sealed partial class InMemoryPair
{
    public const string PairId = "in-memory-pair";

    // Each step is one event, and this much virtual time.
    private static readonly TimeSpan StepTime = TimeSpan.FromMilliseconds(1);

    private readonly InMemoryPairOptions _options;
    private readonly Random _scheduler;
    private readonly Random _powerCuts;
    private readonly PairClock _clock = new();
    private readonly PrimaryShell _primary;
    private readonly SecondaryShell _secondary;
    private readonly List<Choice> _choices = new(12);
    private readonly byte[] _initialDisk;

    /// <summary>Builds the pair and runs it until the primary's host has started over a welcomed link.</summary>
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

        int maxRequestBytes = options.MaxRequestBytes ?? options.Guest.MaxWriteBytes;
        long ramBytes = (long)options.Guest.RamPages * options.Guest.PageSize;
        _maxBodyLength = LinkLimits.MaxBodyLength(maxRequestBytes, ramBytes, options.Guest.PageSize);

        _primary = new PrimaryShell(this, maxRequestBytes);
        PrimaryHost = new PrimaryHost(
            new PrimaryHostOptions
            {
                PairId = PairId,
                ImageBytes = options.Guest.DiskBytes,
                MaxRequestBytes = maxRequestBytes,
                Peer = "the in-memory secondary",
                ImageName = "the in-memory primary's disk",
                HeartbeatTimeout = options.HeartbeatTimeout,
                ReconnectDelay = options.ReconnectDelay,
                ReconnectMaxDelay = options.ReconnectMaxDelay,
                MaxUnacknowledgedCheckpoints = options.MaxUnacknowledgedCheckpoints,
                DirtyRegionBytes = options.DirtyRegionBytes,
                ActivityLogExtents = options.ActivityLogExtents,
                ActivityExtentBytes = options.ActivityExtentBytes,

                // Both in-memory disks start zeroed: equal, as the operator's flag vouches.
                SkipInitialSync = true,
            },
            new MemoryStorageDirectory("primary-state"),
            _primary,
            NullLogger.Instance,
            _clock);

        _secondary = new SecondaryShell(
            this,
            new SecondaryHostOptions
            {
                PairId = PairId,
                MaxRequestBytes = maxRequestBytes,
                BufferCapacityBytes = options.SecondaryBufferBytes,
                WritebackCapacityBytes = options.SecondaryWritebackBytes,
                RamBytes = ramBytes,
                PageSize = options.Guest.PageSize,
                HeartbeatTimeout = options.HeartbeatTimeout,
            });
        _secondary.Start();

        PrimaryHost.Start();
        RunUntil(() => _primary.Start is not null, maxSteps: 10_000);
        if (_primary.Start is not { Outcome: PrimaryStartOutcome.Running })
        {
            throw new InvalidOperationException($"the in-memory pair did not start: {_primary.Start?.Reason ?? "no answer to the hello"}");
        }
    }

    public SyntheticGuest Guest { get; }

    /// <summary>The primary's host: every event of the primary goes to it.</summary>
    public PrimaryHost PrimaryHost { get; }

    /// <summary>The secondary's host of the running incarnation (a restart makes a new one).</summary>
    public SecondaryHost SecondaryHost => _secondary.Host;

    /// <summary>The primary's engine, for the checks and tests to read; events go to its host.</summary>
    public PrimaryEngine Primary => PrimaryHost.Engine!;

    /// <summary>The secondary's engine, for the checks and tests to read; events go to its host.</summary>
    public SecondaryEngine Secondary => SecondaryHost.Engine!;

    public MemoryDisk PrimaryDisk { get; }

    public MemoryDisk SecondaryImage { get; }

    /// <summary>The secondary's state directory: journal, RAM image and state record.</summary>
    public MemoryStorageDirectory SecondaryState { get; } = new("secondary-state");

    /// <summary>The committed epochs' requests in commit order: the history a secondary crash state must be legal for (I4).</summary>
    public CrashHistory CommittedHistory { get; }

    public List<string> Violations { get; } = new();

    public long Steps { get; private set; }

    /// <summary>The primary's epoch timer fires every <see cref="InMemoryPairOptions.CheckpointIntervalSteps"/> steps while true.</summary>
    public bool AutomaticCheckpoints { get; set; } = true;

    public bool PrimaryCrashed { get; private set; }

    public bool SecondaryDown => _secondary.Down;

    /// <summary>Why replication first degraded, as the primary's host reported it; null if it never did.</summary>
    public string? DegradedReason => _primary.DegradedReason;

    public IReadOnlyList<long> ReleasedOutputs => _primary.Released;

    /// <summary>Payload bytes the primary's host sent towards the secondary.</summary>
    public long MirroredPayloadBytes => _primary.MirroredPayloadBytes;

    /// <summary>Every resync the primary's host started, as sent on the wire.</summary>
    public IReadOnlyList<Protocol.Messages.ResyncStartMessage> ResyncStarts => _primary.ResyncStarts;

    /// <summary>The epoch acknowledged each time the primary's host reported the pair protected again.</summary>
    public IReadOnlyList<long> ProtectedAt => _primary.ProtectedAt;

    /// <summary>Bytes the primary's disk read for resyncs.</summary>
    public long ResyncBytesRead => _primary.ResyncBytesRead;

    /// <summary>Epochs found equal to the guest's own record at their commit or their apply (epochs mid-resync hold no checkpoint and are not).</summary>
    public int CheckedEpochs { get; private set; }

    /// <summary>Lets the guest issue this many more requests.</summary>
    public void IssueRequests(long count) => _primary.RequestBudget += count;

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

    /// <summary>
    /// Performs one event, chosen by the scheduler among those that can happen, then the timers due.
    /// When only a timer is pending the clock moves on to it. False when nothing can happen.
    /// </summary>
    public bool Step()
    {
        CollectChoices();
        if (_choices.Count == 0 && !PrimaryCrashed && _primary.ReconnectDue is long due)
        {
            _clock.AdvanceTo(due);
            CollectChoices();
        }

        if (_choices.Count == 0)
        {
            return false;
        }

        Steps++;
        _clock.Advance(StepTime);
        switch (_choices[_scheduler.Next(_choices.Count)])
        {
            case Choice.GuestSubmits:
                _primary.GuestSubmits(_scheduler.NextDouble() < _options.OutputProbability);
                break;
            case Choice.LocalCompletes:
                _primary.CompleteLocal(_scheduler);
                break;
            case Choice.ResyncReadCompletes:
                _primary.CompleteResyncRead(_scheduler);
                break;
            case Choice.DirtyLogRuns:
                _primary.RunDirtyLog();
                break;
            case Choice.VmCaptured:
                _primary.Capture();
                break;
            case Choice.Connects:
                Connect();
                break;
            case Choice.ReconnectDue:
                _primary.FireReconnect();
                break;
            case Choice.DeliverToPrimary:
                DeliverToPrimary();
                break;
            case Choice.DeliverToSecondary:
                DeliverToSecondary();
                break;
            case Choice.JournalRuns:
                _secondary.RunJournal();
                break;
            case Choice.ApplyRuns:
                _secondary.RunApply();
                break;
        }

        DeliverNotices();
        FireTimers();
        DeliverNotices();
        return true;
    }

    private void CollectChoices()
    {
        _choices.Clear();
        if (!PrimaryCrashed)
        {
            if (_primary.GuestCanSubmit(_options.QueueDepth))
            {
                _choices.Add(Choice.GuestSubmits);
            }

            if (_primary.LocalInFlight > 0)
            {
                _choices.Add(Choice.LocalCompletes);
            }

            if (_primary.ResyncReadsInFlight > 0)
            {
                _choices.Add(Choice.ResyncReadCompletes);
            }

            if (_primary.DirtyLogOperations > 0)
            {
                _choices.Add(Choice.DirtyLogRuns);
            }

            if (_primary.CaptureAsked)
            {
                _choices.Add(Choice.VmCaptured);
            }

            if (_primary.ConnectAsked)
            {
                _choices.Add(Choice.Connects);
            }

            if (_primary.ReconnectDue <= _clock.GetTimestamp())
            {
                _choices.Add(Choice.ReconnectDue);
            }
        }

        // Frames already on the way keep arriving (or are dropped at a closed end) whoever is down.
        if (!_toPrimary.IsEmpty)
        {
            _choices.Add(Choice.DeliverToPrimary);
        }

        if (!_toSecondary.IsEmpty)
        {
            _choices.Add(Choice.DeliverToSecondary);
        }

        if (!_secondary.Down)
        {
            if (_secondary.JournalPending)
            {
                _choices.Add(Choice.JournalRuns);
            }

            if (_secondary.ApplyPending)
            {
                _choices.Add(Choice.ApplyRuns);
            }
        }
    }

    /// <summary>The shells' periodic timers, counted in steps: the primary's epoch, both hosts' heartbeats.</summary>
    private void FireTimers()
    {
        if (AutomaticCheckpoints && !PrimaryCrashed && Steps % _options.CheckpointIntervalSteps == 0)
        {
            PrimaryHost.OnEpochTick();
        }

        if (Steps % _options.HeartbeatIntervalSteps == 0)
        {
            if (!PrimaryCrashed)
            {
                PrimaryHost.OnHeartbeatTick();
            }

            if (!_secondary.Down)
            {
                _secondary.HeartbeatTick();
            }
        }
    }

    private enum Choice
    {
        GuestSubmits,
        LocalCompletes,
        ResyncReadCompletes,
        DirtyLogRuns,
        VmCaptured,
        Connects,
        ReconnectDue,
        DeliverToPrimary,
        DeliverToSecondary,
        JournalRuns,
        ApplyRuns,
    }
}
