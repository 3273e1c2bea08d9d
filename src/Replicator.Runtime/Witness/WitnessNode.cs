using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using IPEndPoint = System.Net.IPEndPoint;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Replicator.Hosts.Diagnostics;
using Replicator.Hosts.Links;
using Replicator.Hosts.Witness;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using Replicator.Protocol.Witness;
using Replicator.Runtime.Control;
using Replicator.Runtime.Links;
using Replicator.Runtime.Storage;

namespace Replicator.Runtime.Witness;

/// <summary>
/// The witness daemon's shell: a listener whose connections prove the pair key before anything is
/// read, a receive loop per connection that decodes requests, one loop that hands them to the
/// <see cref="WitnessHost"/>, and its answers sent back. Connections are bounded; a malformed frame
/// or a stranger costs its own connection only.
/// </summary>
public sealed partial class WitnessNode : IAsyncDisposable
{
    private readonly WitnessNodeOptions _options;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly Channel<Event> _events = Channel.CreateUnbounded<Event>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<LinkId, FrameConnection> _connections = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly WitnessHost _host;
    private TcpListener? _listener;
    private ITimer? _tick;
    private Task _loops = Task.CompletedTask;
    private readonly ConnectionAcceptor _acceptor;
    private long _nextLink;

    // The host's instruments: this node's own meter, gone with the node.
    private readonly Meter _meter = new(MeterNames.Witness);

    // The host's view for the status, replaced on its loop after every event.
    private volatile IReadOnlyList<WitnessPairStatus> _pairs = [];

    public WitnessNode(WitnessNodeOptions options, ILogger log, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _log = log;
        _time = time;
        _acceptor = new ConnectionAcceptor(options.MaxConnections, "open (--max-connections)", time);
        _host = new WitnessHost(
            new WitnessHostOptions { MaxLease = options.MaxLease, MaxPairs = options.MaxPairs, IdleTimeout = options.IdleTimeout, Meter = _meter },
            new FileStorageDirectory(options.StateDirectory),
            new Actions(this),
            log,
            time);
    }

    public IPEndPoint? LocalEndPoint => (IPEndPoint?)_listener?.LocalEndpoint;

    /// <summary>What <c>replicator status</c> shows: the listener, the connections, and each pair as the witness holds it.</summary>
    public JsonNode Status()
    {
        var status = new JsonObject
        {
            ["Listen"] = LocalEndPoint?.ToString(),
            ["Connections"] = _acceptor.Taken,
        };
        foreach (WitnessPairStatus pair in _pairs)
        {
            status[$"Pair {pair.PairId}"] = string.Create(
                System.Globalization.CultureInfo.InvariantCulture,
                $"{Held(pair)}; lease held {pair.LeaseHeldFor.TotalMilliseconds:0} ms more; primary asked {Ago(pair.PrimarySeenAgo)}, secondary {Ago(pair.SecondarySeenAgo)}; {pair.Promotions} promotions voted");
        }

        return new JsonObject { ["role"] = "witness", ["status"] = status };
    }

    /// <summary>
    /// What <c>replicator events</c> follows: each pair's generation, holder and promotions voted —
    /// the witness's state without the clocks (lease left, last asked) that change at every look.
    /// </summary>
    public StatusSample State()
    {
        var state = new JsonObject { ["Listen"] = LocalEndPoint?.ToString() };
        foreach (WitnessPairStatus pair in _pairs)
        {
            state[$"Pair {pair.PairId}"] = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Held(pair)}; {pair.Promotions} promotions voted");
        }

        return new StatusSample("witness", state);
    }

    private static string Held(WitnessPairStatus pair) =>
        $"{pair.Generations}, held by its {(pair.Holder == NodeRole.Secondary ? "promoted secondary" : "primary")}";

    private static string Ago(TimeSpan? since) =>
        since is { } s ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{s.TotalMilliseconds:0} ms ago") : "never since the witness started";

    public Task StartAsync()
    {
        IReadOnlyList<string> problems = _options.Validate();
        if (problems.Count > 0)
        {
            throw new InvalidOperationException("witness options are invalid: " + string.Join("; ", problems));
        }

        ControlCodec.Prepare();
        _listener = new TcpListener(_options.Listen);
        _listener.Start();
        Log.Listening(_log, LocalEndPoint!.ToString(), LinkTransport.Describe(_options.LinkKey));
        _tick = _time.CreateTimer(_ => _events.Writer.TryWrite(new Event(EventKind.Tick, default)), null, _options.TickInterval, _options.TickInterval);
        _loops = Task.WhenAll(EventLoopAsync(), _acceptor.RunAsync(_listener, ServeAsync, Refused, _stopping.Token));
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _tick?.Dispose();
        _listener?.Stop();
        _events.Writer.TryComplete();
        foreach (FrameConnection connection in _connections.Values)
        {
            await connection.CloseAsync(null).ConfigureAwait(false);
        }

        try
        {
            await _loops.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stopping.Dispose();
        _meter.Dispose();
    }

    /// <summary>A connection refused before it proved the pair key (or past the connection limit).</summary>
    private void Refused(string peer, string reason)
    {
        _host.Metrics?.ConnectionRefused(RefusalStage.Transport);
        Log.Refused(_log, peer, reason);
    }

    private async Task EventLoopAsync()
    {
        await foreach (Event e in _events.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            switch (e.Kind)
            {
                case EventKind.Connected:
                    _host.OnLinkConnected(e.Link, e.Text!);
                    break;
                case EventKind.Request:
                    _host.OnRequest(e.Link, e.Request!);
                    break;
                case EventKind.Malformed:
                    _host.OnMalformed(e.Link, e.Text!);
                    break;
                case EventKind.Closed:
                    _host.OnLinkClosed(e.Link);
                    break;
                case EventKind.Tick:
                    _host.OnTick();
                    break;
            }

            _pairs = _host.Pairs();
        }
    }

    /// <summary>One connection: the key proven first, then its requests until it ends.</summary>
    private async Task ServeAsync(Socket socket, string peer)
    {
        try
        {
            Stream stream;
            try
            {
                stream = await LinkTransport.AcceptAsync(socket, _options.LinkKey, _options.LinkHandshakeTimeout, _time, _stopping.Token).ConfigureAwait(false);
            }
            catch (LinkAuthenticationException e)
            {
                socket.Dispose();
                Refused(peer, e.Message);
                return;
            }

            // Requests and answers are small: a frame larger than the biggest request is no request.
            var connection = new FrameConnection(socket, stream, MaxRequestBodyBytes, _time);
            var link = new LinkId(Interlocked.Increment(ref _nextLink));
            _connections[link] = connection;
            connection.StartSending();
            _events.Writer.TryWrite(new Event(EventKind.Connected, link, Text: peer));
            string reason = "the node closed the connection";
            try
            {
                await connection.ReceiveAsync(frame => OnFrame(link, frame), _stopping.Token).ConfigureAwait(false);
            }
            catch (ProtocolViolationException e)
            {
                _events.Writer.TryWrite(new Event(EventKind.Malformed, link, Text: e.Message));
                reason = e.Message;
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or IOException)
            {
                reason = e.Message;
            }

            _connections.TryRemove(link, out _);
            _events.Writer.TryWrite(new Event(EventKind.Closed, link, Text: reason));
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _acceptor.Release();
        }
    }

    /// <summary>On the receive loop: a request decoded for the host's loop, or the connection's end.</summary>
    private bool OnFrame(LinkId link, in Frame frame)
    {
        if (frame.Type == FrameType.Error)
        {
            return false; // the node's goodbye: the connection ends, nothing was wrong with it
        }

        try
        {
            WitnessRequestMessage request = ControlCodec.Decode<WitnessRequestMessage>(frame, FrameType.WitnessRequest);
            _events.Writer.TryWrite(new Event(EventKind.Request, link, request));
            return true;
        }
        catch (ProtocolViolationException e)
        {
            _events.Writer.TryWrite(new Event(EventKind.Malformed, link, Text: e.Message));
            return false;
        }
    }

    /// <summary>A request's body at most: generations of the longest history, with room to spare.</summary>
    private const int MaxRequestBodyBytes = 16 << 10;

    private enum EventKind
    {
        Connected,
        Request,
        Malformed,
        Closed,
        Tick,
    }

    private readonly record struct Event(EventKind Kind, LinkId Link, WitnessRequestMessage? Request = null, string? Text = null);

    private sealed class Actions(WitnessNode node) : IWitnessHostActions
    {
        public void Answer(LinkId link, WitnessAnswerMessage answer)
        {
            if (node._connections.TryGetValue(link, out FrameConnection? connection))
            {
                connection.SendControl(FrameType.WitnessAnswer, answer);
            }
        }

        public void Close(LinkId link, string reason)
        {
            if (node._connections.TryGetValue(link, out FrameConnection? connection))
            {
                _ = connection.CloseAsync(reason);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "witness listening on {EndPoint}; {Link}")]
        public static partial void Listening(ILogger logger, string endPoint, string link);

        [LoggerMessage(2, LogLevel.Warning, "refused a connection from {Peer}: {Reason}")]
        public static partial void Refused(ILogger logger, string peer, string reason);
    }
}
