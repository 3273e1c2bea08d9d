using Microsoft.Extensions.Logging.Abstractions;
using Replicator.Core.Guest;
using Replicator.Core.Secondary;
using Replicator.Core.Vm;
using Replicator.Hosts.Links;
using Replicator.InMemory;
using Replicator.Hosts.Secondary;
using Replicator.Protocol.Framing;
using Replicator.Sim.Network;
using Replicator.Sim.Runs;
using Replicator.Sim.Storage;
using Replicator.Sim.World;

namespace Replicator.Sim.Nodes;

/// <summary>
/// The secondary in the simulated world: the daemon's own <see cref="SecondaryHost"/> (and through
/// it the real engine, journal and state record) over simulated connections, a simulated image and
/// state directory on simulated disks, and the virtual clock. Like the daemon's shell it only moves
/// events: frames in, the host's frames out, its storage operations run one at a time per lane with
/// the disks' latency. It can lose power, be killed, and restart from what its disks hold.
/// </summary>
internal sealed partial class SecondaryShell : ILinkEndpoint
{
    private readonly SimWorld _world;
    private readonly SecondaryHostOptions _options;
    private readonly SimTimeProvider _time;

    // The image's disk faults; its power switch is the whole host's.
    private readonly SimStorageFaults _imageFaults;
    // Each open connection both ways: frames arrive by connection, the host sends by link id.
    private readonly Dictionary<SimConnection, LinkId> _links = new();
    private readonly Dictionary<LinkId, LinkSender> _senders = new();
    private long _nextLink;
    private int _incarnation;
    private readonly ProcessPause _pause;

    /// <summary>A secondary over this storage; <paramref name="autoFailover"/>: whether it promotes itself when its primary's heartbeats stop (the scenario's setting unless said).</summary>
    public SecondaryShell(SimWorld world, MemoryDisk image, MemoryStorageDirectory stateDirectory, SimStorageFaults storageFaults, bool? autoFailover = null)
    {
        _world = world;
        Image = image;
        StateDirectory = stateDirectory;
        _imageFaults = storageFaults;
        _time = new SimTimeProvider(world.Clock);
        _pause = new ProcessPause(world.Clock);
        Scenario scenario = world.Scenario;
        _options = new SecondaryHostOptions
        {
            PairId = SimIdentity.PairId,
            BlockSize = SimIdentity.BlockSize,
            MaxRequestBytes = scenario.Guest.MaxWriteBytes,
            BufferCapacityBytes = scenario.SecondaryBufferBytes,
            WritebackCapacityBytes = scenario.SecondaryWritebackBytes,
            RamBytes = (long)scenario.Guest.RamPages * scenario.Guest.PageSize,
            PageSize = scenario.Guest.PageSize,
            HeartbeatTimeout = TimeSpan.FromMicroseconds(scenario.HeartbeatTimeoutUs),
            Witness = scenario.Witness ? WitnessShell.SessionOptions(scenario) : null,
            FenceCommand = scenario.FenceUs > 0 ? "stonith (simulated)" : null,
            AutoFailover = autoFailover ?? scenario.AutoFailover,
            JournalSwitchAboveBytes = scenario.JournalSwitchAboveBytes,
            JournalStagingBytes = scenario.JournalStagingBytes,
            PageTerms = scenario.SecondaryPageTerms,
            Plant = scenario.Plant,
        };
        Host = NewHost();
    }

    /// <summary>The host of the current incarnation of the process.</summary>
    public SecondaryHost Host { get; private set; }

    public SecondaryEngine Engine => Host.Engine!;

    /// <summary>The image's bytes and cache: the checkers read it directly, past any fault.</summary>
    public MemoryDisk Image { get; }

    /// <summary>The state directory (journal, RAM image, state record), on its own disk.</summary>
    public MemoryStorageDirectory StateDirectory { get; }

    /// <summary>Off: powered down or its process stopped, until it restarts.</summary>
    public bool Down { get; private set; }

    public bool IsReachable => !Down;

    /// <summary>Promotion completed: the node is the new primary, beyond the faults aimed at a secondary.</summary>
    public bool IsPromoted => PromotedEpoch >= 0;

    /// <summary>The newest epoch this node holds durably: in its journal or its state record.</summary>
    public long DurableCommittedEpoch { get; private set; }

    /// <summary>A journal append failed: no epoch commits until the process restarts.</summary>
    public bool JournalFailed { get; private set; }

    /// <summary>The process is stopped for <paramref name="duration"/>: everything that reaches it waits until it wakes.</summary>
    public void Pause(long duration)
    {
        if (!Down)
        {
            _pause.Pause(duration);
        }
    }

    /// <summary>Starts the first incarnation: recovery from the (fresh) storage.</summary>
    public void Start()
    {
        StartHost();
        _world.Clock.After(_world.Scenario.HeartbeatUs, () => HeartbeatTick(_incarnation));
    }

    /// <summary>The daemon comes up only after <paramref name="delay"/>: until then a primary finds nobody listening.</summary>
    public void StartAfter(long delay)
    {
        Down = true;
        _world.Clock.After(delay, () =>
        {
            Down = false;
            _world.Trace.Event("secondary starts late");
            Start();
        });
    }

    /// <summary>A primary connects. Refused (the connection fails) while this node is down.</summary>
    public bool Accept(SimConnection connection)
    {
        if (Down)
        {
            return false;
        }

        var link = new LinkId(++_nextLink);
        _links[connection] = link;
        _senders[link] = new LinkSender(_world.Network, connection, toSecondary: false);

        // The kernel accepts for a stopped process; the process hears of it when it wakes.
        int incarnation = _incarnation;
        _pause.Run(() =>
        {
            if (!Down && incarnation == _incarnation && _senders.ContainsKey(link))
            {
                Host.OnLinkConnected(link, $"connection {connection.Id}");
            }
        });
        return true;
    }

    /// <summary>An operator's (or the world's final) failover: why not, when the host refuses.</summary>
    public string? Promote(string reason)
    {
        if (Down || Host.IsPromoted)
        {
            return null;
        }

        if (_pause.IsPaused)
        {
            // The operator's command is answered once the process wakes (a refusal then shows at the next ask).
            _pause.Run(() => Promote(reason));
            return null;
        }

        string? refusal = Host.Promote(reason);
        _world.Trace.Event(refusal is null ? "promote" : "promotion refused", Engine.LastCommittedEpoch);
        _world.Trace.Note(() => $"secondary {(refusal is null ? "promoting" : "refused promotion")} ({reason}){(refusal is null ? string.Empty : ": " + refusal)}");
        return refusal;
    }

    public void OnFrame(SimConnection connection, in Frame frame)
    {
        if (_pause.IsPaused)
        {
            // Unread, it waits in the kernel's buffer: a copy, since the network reuses its own.
            var held = new Frame(frame.Header, new System.Buffers.ReadOnlySequence<byte>(System.Buffers.BuffersExtensions.ToArray(frame.Body)));
            _pause.Run(() => OnFrame(connection, held));
            return;
        }

        if (Down || !_links.TryGetValue(connection, out LinkId link))
        {
            return;
        }

        SecondaryInput input = SecondaryFrameDecoder.Decode(frame, _time.GetTimestamp());
        long buffered = Engine.BufferedBytes;
        long violations = Host.ProtocolViolations;
        Host.OnInput(link, input);
        if (Host.ProtocolViolations > violations)
        {
            // Every primary here is this build, and a corrupted frame never passes its checksum.
            _world.Checker.Fail($"the secondary refused a frame of the primary as malformed: {Host.LastProtocolViolation}");
        }

        if ((Host.IsPromoted || IsPromoted) && Engine.BufferedBytes > buffered)
        {
            _world.Checker.Fail("I6: a promoted secondary took a frame from the old primary");
        }

        _world.Checker.BufferBound(Engine.BufferedBytes, Engine.MemoryBoundBytes);
        _world.Checker.CreditBound(Engine.CreditHeldBytes, Engine.BufferCapacityBytes);
    }

    public void OnClosed(SimConnection connection, string reason)
    {
        if (_pause.IsPaused)
        {
            _pause.Run(() => OnClosed(connection, reason));
            return;
        }

        if (_links.Remove(connection, out LinkId link) && _senders.Remove(link) && !Down)
        {
            Host.OnLinkClosed(link, reason);
        }
    }

    private void HeartbeatTick(int incarnation)
    {
        if (Down || incarnation != _incarnation)
        {
            return;
        }

        if (_pause.IsPaused)
        {
            _pause.Run(() => HeartbeatTick(incarnation));
            return;
        }

        Host.OnHeartbeatTick();
        _world.Clock.After(_world.Scenario.HeartbeatUs, () => HeartbeatTick(incarnation));
    }

    private SecondaryHost NewHost() => new(_options, new Actions(this), NullLogger.Instance, _time);
}
