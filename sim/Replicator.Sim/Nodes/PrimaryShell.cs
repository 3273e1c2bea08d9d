using Microsoft.Extensions.Logging.Abstractions;
using Replicator.Core.Guest;
using Replicator.Core.Primary;
using Replicator.Hosts.Links;
using Replicator.Hosts.Primary;
using Replicator.InMemory;
using Replicator.Protocol.Framing;
using Replicator.Sim.Faults;
using Replicator.Sim.Network;
using Replicator.Sim.Runs;
using Replicator.Sim.Storage;
using Replicator.Sim.World;

namespace Replicator.Sim.Nodes;

/// <summary>
/// The primary in the simulated world: the daemon's own <see cref="PrimaryHost"/> (and through it
/// the real engine, handshake, heartbeats, reconnects, fencing and state record) over simulated
/// connections, its image on a simulated disk, its state directory in simulated storage, the
/// synthetic guest, and the virtual clock. Like the daemon's shell it only moves events: the
/// guest's requests and the timers in, the host's frames, disk work and guest calls out. While
/// paused it does nothing (events due meanwhile wait for it to wake); once its process is gone,
/// nothing reaches it until an operator starts it again.
/// </summary>
internal sealed partial class PrimaryShell : ILinkEndpoint
{
    private readonly SimWorld _world;
    private readonly SimTimeProvider _time;
    private readonly Dictionary<SimConnection, LinkId> _links = new();
    private readonly Dictionary<LinkId, LinkSender> _senders = new();
    private readonly Dictionary<long, GuestRequest> _requests = new();
    private readonly Dictionary<long, long> _outputEpochs = new();
    private long _nextLink;
    private long _nextOutputId = 1;
    private int _incarnation;
    private bool _guestRunning;
    private PrimaryCrashPoint? _crashWhen;

    // What the pair's primary saw over all its incarnations: the failover is judged against it (I2).
    private long _acknowledgedBefore;
    private long _startedBefore;

    public PrimaryShell(SimWorld world, SimDisk disk)
        : this(world, disk, new MemoryStorageDirectory("primary-state"), tookOver: false)
    {
    }

    /// <summary>A primary over <paramref name="stateDirectory"/>; <paramref name="tookOver"/>: the node was promoted as a secondary, and its primary runs as a promoted node's does (failback).</summary>
    public PrimaryShell(SimWorld world, SimDisk disk, MemoryStorageDirectory stateDirectory, bool tookOver)
    {
        _world = world;
        _time = new SimTimeProvider(world.Clock);
        _tookOver = tookOver;
        Disk = disk;
        Guest = world.Guest;
        StateDirectory = stateDirectory;
        Host = NewHost(Options());
    }

    private readonly bool _tookOver;

    /// <summary>The host of the current incarnation of the process.</summary>
    public PrimaryHost Host { get; private set; }

    /// <summary>The current incarnation's engine, once its start succeeded.</summary>
    public PrimaryEngine? Engine => Host.Engine;

    public SyntheticGuest Guest { get; }

    public SimDisk Disk { get; }

    /// <summary>The primary's state directory (its state record): it survives restarts.</summary>
    public MemoryStorageDirectory StateDirectory { get; }

    /// <summary>The process is gone (crashed, or stopped by an operator) and not started again.</summary>
    public bool Crashed { get; private set; }

    public long PausedUntil { get; private set; }

    public bool IsReachable => !Crashed;

    public bool IsPaused => _world.Clock.Now < PausedUntil;

    /// <summary>The secondary will never follow this primary again (I6).</summary>
    public bool Fenced => Host.FencedReason is not null;

    /// <summary>The newest epoch any incarnation saw acknowledged.</summary>
    public long LastAcknowledgedEpoch => Math.Max(_acknowledgedBefore, Engine?.LastAcknowledgedEpoch ?? 0);

    /// <summary>The newest checkpoint any incarnation started.</summary>
    public long LastCheckpointStarted => Math.Max(_startedBefore, Engine?.LastCheckpointStarted ?? 0);

    /// <summary>The last welcome any link brought: what the secondary said it held when the primary decided how to sync it.</summary>
    public Replicator.Protocol.Messages.WelcomeMessage? LastWelcome { get; private set; }

    /// <summary>The highest epoch of any output released as protected by the replica.</summary>
    public long HighestProtectedOutputEpoch { get; private set; }

    /// <summary>The first start: the host loads its state record and connects; the guest runs once the pair does.</summary>
    public void Start()
    {
        StartHost();
        int incarnation = _incarnation;
        _world.Clock.After(_world.Scenario.EpochUs, () => EpochTick(incarnation));
        _world.Clock.After(_world.Scenario.HeartbeatUs, () => HeartbeatTick(incarnation));
    }

    /// <summary>Crashes at the next point of this kind in the checkpoint cycle (at once for mid-epoch).</summary>
    public void CrashAt(PrimaryCrashPoint point)
    {
        if (point == PrimaryCrashPoint.MidEpoch)
        {
            Crash(processKilled: true);
            return;
        }

        _crashWhen = point;
        // If the cycle never reaches that point (replication already degraded), crash anyway.
        _world.Clock.After(5 * _world.Scenario.EpochUs, () => Crash(processKilled: true));
    }

    /// <summary>The primary dies: a killed process's sockets are closed by its kernel; a lost host just goes silent.</summary>
    public void Crash(bool processKilled)
    {
        if (Crashed)
        {
            return;
        }

        _world.Trace.Event("primary crash", Engine?.CurrentEpoch ?? 0, LastAcknowledgedEpoch);
        Disk.AbandonInFlight();
        if (!processKilled)
        {
            // The host lost power: its state record and dirty log keep only what was made durable,
            // and its image only what was flushed.
            StateDirectory.PowerCut(_world.Random.PowerCuts);
            Disk.PowerCut(_world.Random.PowerCuts);
        }

        GoDown(processKilled ? "the primary's process died" : null);
    }

    /// <summary>The operator runs <c>replicator verify</c>: the running primary compares both images (refused unless protected).</summary>
    public void Verify(bool repair) => OnHost(_incarnation, () =>
    {
        _world.Trace.Event("verify", repair ? 1 : 0);
        Host.Verify(waiterId: 0, repair);
    });

    /// <summary>How the switchover asked by <see cref="SwitchOver"/> ended, once it has.</summary>
    public SwitchoverResult? Switchover { get; private set; }

    /// <summary>The operator runs <c>replicator switchover</c> on this primary (with the guest quiet, as the daemon's export makes it).</summary>
    public void SwitchOver() => OnHost(_incarnation, () =>
    {
        _world.Trace.Event("switchover", Engine?.CurrentEpoch ?? 0);
        Host.SwitchOver(waiterId: 0);
    });

    public void Pause(long duration)
    {
        PausedUntil = Math.Max(PausedUntil, _world.Clock.Now + duration);
        _world.Trace.Event("primary paused", duration);
    }

    public void OnFrame(SimConnection connection, in Frame frame)
    {
        // Decoded on arrival, as the daemon's receive loop does; taken by the host on its own turn.
        PrimaryInput input = PrimaryFrameDecoder.Decode(frame);
        if (input.Welcome is { } welcome)
        {
            LastWelcome = welcome;
        }

        OnHost(_incarnation, () =>
        {
            if (_links.TryGetValue(connection, out LinkId link))
            {
                Host.OnFrame(link, input);
            }
        });
    }

    public void OnClosed(SimConnection connection, string reason) => OnHost(_incarnation, () =>
    {
        if (_links.Remove(connection, out LinkId link))
        {
            _senders.Remove(link);
            Host.OnLinkClosed(link, reason);
        }
    });

    private PrimaryHostOptions Options()
    {
        Scenario scenario = _world.Scenario;
        return new PrimaryHostOptions
        {
            PairId = SimIdentity.PairId,
            ImageBytes = scenario.Guest.DiskBytes,
            BlockSize = SimIdentity.BlockSize,
            MaxRequestBytes = scenario.Guest.MaxWriteBytes,
            HeartbeatTimeout = TimeSpan.FromMicroseconds(scenario.HeartbeatTimeoutUs),
            Witness = scenario.Witness ? WitnessShell.SessionOptions(scenario) : null,
            ReconnectDelay = TimeSpan.FromMicroseconds(scenario.ReconnectUs),
            ReconnectMaxDelay = TimeSpan.FromMicroseconds(32 * scenario.ReconnectUs),
            MaxUnacknowledgedCheckpoints = scenario.MaxUnacknowledgedCheckpoints,
            PageTerms = scenario.PrimaryPageTerms,
            Plant = scenario.Plant,
            DirtyRegionBytes = scenario.DirtyRegionBytes,
            ActivityExtentBytes = scenario.ActivityExtentBytes,
            ActivityLogExtents = scenario.ActivityLogExtents,
            SyncChecksums = scenario.SyncChecksums,
            StartWithoutSecondary = scenario.StartWithoutSecondary,

            // Both simulated disks start equal, as an operator who vouches for them would say; a
            // blank secondary is synced whole instead. Nobody vouches for anything at a failback.
            SkipInitialSync = !scenario.BlankSecondary && !_tookOver,
            RunsPromotedNode = _tookOver,
        };
    }

    private PrimaryHost NewHost(PrimaryHostOptions options) => new(options, StateDirectory, new Actions(this), NullLogger.Instance, _time);

    private void StartHost()
    {
        Crashed = false;
        Host.Start();
    }

    /// <summary>The process is gone: its links close (or go silent), nothing it scheduled happens any more.</summary>
    private void GoDown(string? closeReason)
    {
        _acknowledgedBefore = LastAcknowledgedEpoch;
        _startedBefore = LastCheckpointStarted;
        Crashed = true;
        _incarnation++;
        _guestRunning = false;
        _crashWhen = null;
        foreach (SimConnection connection in _links.Keys)
        {
            if (closeReason is not null)
            {
                _world.Network.CloseAfterInFlight(connection, closeReason);
            }
        }

        _links.Clear();
        _senders.Clear();
    }

    /// <summary>Runs an event on this incarnation of the host: dropped once it is gone, deferred while it is paused.</summary>
    private void OnHost(int incarnation, Action action)
    {
        if (Crashed || incarnation != _incarnation)
        {
            return;
        }

        if (IsPaused)
        {
            _world.Clock.At(PausedUntil, () => OnHost(incarnation, action));
            return;
        }

        action();
    }

    private void EpochTick(int incarnation)
    {
        OnHost(incarnation, Host.OnEpochTick);
        if (incarnation == _incarnation && !Crashed)
        {
            _world.Clock.After(_world.Scenario.EpochUs, () => EpochTick(incarnation));
        }
    }

    private void HeartbeatTick(int incarnation)
    {
        OnHost(incarnation, Host.OnHeartbeatTick);
        if (incarnation == _incarnation && !Crashed)
        {
            _world.Clock.After(_world.Scenario.HeartbeatUs, () => HeartbeatTick(incarnation));
        }
    }

    /// <summary>The guest starts issuing requests once the pair runs (a daemon's export opens then).</summary>
    private void StartGuest()
    {
        if (!_guestRunning)
        {
            _guestRunning = true;
            ScheduleGuest(_incarnation);
        }
    }

    private void ScheduleGuest(int incarnation) =>
        _world.Clock.After(1 + _world.Random.Guest.NextInt64(2 * _world.Scenario.ThinkUs), () => OnHost(incarnation, () => GuestTick(incarnation)));

    private void GuestTick(int incarnation)
    {
        if (_world.Clock.Now >= _world.Scenario.DurationUs || !_guestRunning)
        {
            return;
        }

        if (Engine is { } engine && !Guest.IsPaused && engine.InFlightCount + engine.QueuedCount < _world.Scenario.QueueDepth)
        {
            GuestRequest request = Guest.NextRequest();
            _requests.Add(request.Id, request);
            Host.Submit(request.Id, request.Request, request.Payload);
            if (_world.Random.Guest.NextDouble() < _world.Scenario.OutputProbability)
            {
                long id = _nextOutputId++;
                _outputEpochs.Add(id, engine.CurrentEpoch);
                Host.SubmitOutput(id);
            }
        }

        ScheduleGuest(incarnation);
    }

    /// <summary>A crash due at a point of the cycle happens right after the action that marks it, before anything else.</summary>
    private void TriggerCrash(PrimaryCrashPoint point)
    {
        if (_crashWhen == point)
        {
            _crashWhen = null;
            _world.Clock.After(0, () => Crash(processKilled: true));
        }
    }
}
