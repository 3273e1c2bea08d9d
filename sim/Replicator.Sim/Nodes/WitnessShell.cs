using Microsoft.Extensions.Logging.Abstractions;
using Replicator.Hosts.Links;
using Replicator.Hosts.Witness;
using Replicator.InMemory;
using Replicator.Protocol.Witness;
using Replicator.Sim.World;

namespace Replicator.Sim.Nodes;

/// <summary>Which node a witness connection belongs to: each has its own link to the witness, cut on its own.</summary>
internal enum WitnessSide
{
    Primary,
    Secondary,
}

/// <summary>What a node's shell hears from the simulated witness, for the incarnation that asked.</summary>
internal interface IWitnessClient
{
    void OnWitnessConnected(int incarnation, LinkId link);

    void OnWitnessConnectFailed(int incarnation, string reason);

    void OnWitnessAnswer(int incarnation, LinkId link, WitnessAnswerMessage answer);

    void OnWitnessClosed(int incarnation, LinkId link, string reason);
}

/// <summary>
/// The third host: the daemon's own <see cref="WitnessHost"/> on a state directory that survives
/// its crashes, and a message-level link to each node with the pair link's latency, which
/// partitions cut (each node's on its own, or both) and a crash of the witness closes. A partition
/// drops what is sent, as a stalled TCP connection would; the nodes notice by the silence.
/// </summary>
internal sealed class WitnessShell : IWitnessHostActions
{
    /// <summary>Witness links are numbered from here, apart from the nodes' own links.</summary>
    public const long FirstLink = 1_000_000;

    private readonly SimWorld _world;
    private readonly MemoryStorageDirectory _directory = new("witness-state");
    private readonly Dictionary<LinkId, Connection> _connections = new();
    private readonly List<(long From, long Until, int Variant)> _partitions = new();
    private readonly WitnessHostOptions _options;
    private readonly SimTimeProvider _time;
    private WitnessHost? _host;
    private long _nextLink = FirstLink;
    private int _incarnation;
    private readonly ProcessPause _pause;

    public WitnessShell(SimWorld world)
    {
        _world = world;
        _time = new SimTimeProvider(world.Clock);
        _pause = new ProcessPause(world.Clock);
        _options = new WitnessHostOptions
        {
            MaxLease = TimeSpan.FromMicroseconds(world.Scenario.HeartbeatTimeoutUs),
            IdleTimeout = TimeSpan.FromMicroseconds(world.Scenario.HeartbeatTimeoutUs * 4),
        };
        StartHost();
    }

    /// <summary>
    /// How both nodes reach the witness: a lease of six tenths of the heartbeat timeout (the
    /// daemons' default ratio is three quarters; shorter leaves room for the simulated jitter),
    /// asked at every heartbeat.
    /// </summary>
    public static WitnessSessionOptions SessionOptions(Runs.Scenario scenario) => new()
    {
        Address = "witness",
        PairId = SimIdentity.PairId,
        Lease = TimeSpan.FromMicroseconds(scenario.HeartbeatTimeoutUs * 6 / 10),
        Timeout = TimeSpan.FromMicroseconds(scenario.HeartbeatTimeoutUs),
        RetryDelay = TimeSpan.FromMicroseconds(scenario.HeartbeatUs),
    };

    /// <summary>Whether <paramref name="link"/> is a witness link (a node's host names it among its own).</summary>
    public static bool IsWitnessLink(LinkId link) => link.Value > FirstLink;

    /// <summary>When the witness first granted a promotion (simulated µs), or null: from then on the old primary must acknowledge nothing.</summary>
    public long? FirstVoteAt { get; private set; }

    public int Votes { get; private set; }

    public bool Down => _host is null;

    private long Latency => _world.Scenario.Network.LatencyUs;

    /// <summary>A node asks for a connection: it opens after a round trip, or fails after <paramref name="timeout"/> when the witness is down or cut off.</summary>
    public void Connect(WitnessSide side, IWitnessClient client, int incarnation, TimeSpan timeout)
    {
        _world.Clock.After(Latency, () => _pause.Run(() =>
        {
            if (_host is null || Cut(side))
            {
                long wait = Math.Max(0, (long)timeout.TotalMicroseconds - Latency);
                _world.Clock.After(wait, () => client.OnWitnessConnectFailed(incarnation, _host is null ? "the witness is down" : "no route to the witness"));
                return;
            }

            var connection = new Connection(new LinkId(++_nextLink), side, client, incarnation, _incarnation);
            _connections[connection.Link] = connection;
            _host.OnLinkConnected(connection.Link, side.ToString());
            _world.Clock.After(Latency, () =>
            {
                if (connection.Open)
                {
                    client.OnWitnessConnected(incarnation, connection.Link);
                }
            });
        }));
    }

    /// <summary>A node's request, delivered after the latency unless its link is cut or the witness went down.</summary>
    public void FromNode(LinkId link, WitnessRequestMessage request)
    {
        if (!_connections.TryGetValue(link, out Connection? connection) || !connection.Open || Cut(connection.Side))
        {
            return;
        }

        _world.Clock.After(Latency, () => _pause.Run(() =>
        {
            if (connection.Open && connection.HostIncarnation == _incarnation && _host is not null && !Cut(connection.Side))
            {
                _host.OnRequest(link, request);
            }
        }));
    }

    /// <summary>A node closed its witness link.</summary>
    public void CloseFromNode(LinkId link)
    {
        if (_connections.Remove(link, out Connection? connection) && connection.Open)
        {
            connection.Open = false;
            _world.Clock.After(Latency, () => _pause.Run(() =>
            {
                if (connection.HostIncarnation == _incarnation)
                {
                    _host?.OnLinkClosed(link);
                }
            }));
        }
    }

    public void Answer(LinkId link, WitnessAnswerMessage answer)
    {
        if (answer is { Kind: WitnessRequestKind.Vote, Verdict: WitnessVerdict.Granted })
        {
            Votes++;
            FirstVoteAt ??= _world.Clock.Now;
            _world.Trace.Event("witness voted");

            // What clients saw acknowledged must survive in the lineage voted in: the old primary
            // must not have written in a generation the promoted node lacks (it went on alone).
            foreach (long generation in _world.Primary.AcknowledgedIn)
            {
                if (!answer.PairGenerations.Lineage().Any(m => m.Id == generation))
                {
                    _world.Checker.Fail($"I6: the witness voted in {answer.PairGenerations}, which lacks generation {generation:x16} the old primary acknowledged writes in");
                }
            }
        }

        if (!_connections.TryGetValue(link, out Connection? connection) || !connection.Open || Cut(connection.Side))
        {
            return;
        }

        _world.Clock.After(Latency, () =>
        {
            if (connection.Open)
            {
                connection.Client.OnWitnessAnswer(connection.NodeIncarnation, link, answer);
            }
        });
    }

    public void Close(LinkId link, string reason)
    {
        if (_connections.Remove(link, out Connection? connection) && connection.Open)
        {
            connection.Open = false;
            _host?.OnLinkClosed(link);
            _world.Clock.After(Latency, () => connection.Client.OnWitnessClosed(connection.NodeIncarnation, link, reason));
        }
    }

    /// <summary>Cuts the witness off from the primary (0), the secondary (1) or both (2) until <paramref name="until"/>.</summary>
    public void Partition(long from, long until, int variant) => _partitions.Add((from, until, variant));

    /// <summary>The witness's process is stopped for <paramref name="duration"/>: requests wait, and are answered when it wakes.</summary>
    public void Pause(long duration)
    {
        if (_host is not null)
        {
            _pause.Pause(duration);
        }
    }

    /// <summary>
    /// The witness's process dies — or, with <paramref name="powerCut"/>, its host loses power and its
    /// directory keeps only what was made durable: its connections end (the nodes hear the reset);
    /// it starts again after <paramref name="duration"/> from what its directory holds.
    /// </summary>
    public void Crash(long duration, bool powerCut = false)
    {
        if (_host is null)
        {
            return;
        }

        _host = null;
        _incarnation++;
        _pause.Clear();
        if (powerCut)
        {
            // Every vote it answered was recorded durably first: a restarted witness must still hold it.
            _directory.PowerCut(_world.Random.PowerCuts);
        }

        _world.Trace.Event(powerCut ? "witness power cut" : "witness crashed");
        foreach (Connection connection in _connections.Values)
        {
            connection.Open = false;
            _world.Clock.After(Latency, () => connection.Client.OnWitnessClosed(connection.NodeIncarnation, connection.Link, "the witness's connection was reset"));
        }

        _connections.Clear();
        _world.Clock.After(duration, StartHost);
    }

    private void StartHost()
    {
        _host = new WitnessHost(_options, _directory, this, NullLogger.Instance, _time);
        int incarnation = _incarnation;
        _world.Clock.After(_world.Scenario.HeartbeatUs, () => Tick(incarnation));
    }

    private void Tick(int incarnation)
    {
        if (incarnation != _incarnation || _host is null)
        {
            return;
        }

        if (_pause.IsPaused)
        {
            _pause.Run(() => Tick(incarnation));
            return;
        }

        _host.OnTick();
        _world.Clock.After(_world.Scenario.HeartbeatUs, () => Tick(incarnation));
    }

    private bool Cut(WitnessSide side)
    {
        long now = _world.Clock.Now;
        return _partitions.Any(p => now >= p.From && now < p.Until && (p.Variant == 2 || p.Variant == (int)side));
    }

    private sealed class Connection(LinkId link, WitnessSide side, IWitnessClient client, int nodeIncarnation, int hostIncarnation)
    {
        public LinkId Link { get; } = link;

        public WitnessSide Side { get; } = side;

        public IWitnessClient Client { get; } = client;

        public int NodeIncarnation { get; } = nodeIncarnation;

        public int HostIncarnation { get; } = hostIncarnation;

        public bool Open { get; set; } = true;
    }
}
