using System.Collections.Concurrent;
using IPEndPoint = System.Net.IPEndPoint;
using System.Net.Sockets;
using Replicator.Hosts.Links;
using Replicator.Hosts.Primary;
using Replicator.Protocol.Framing;
using Replicator.Runtime.Links;

namespace Replicator.Runtime.Primary;

/// <summary>
/// The links' bytes: connecting as the host asks, a receive loop per link that decodes frames for
/// the host, closing, and the reconnect timer. The host names links by <see cref="LinkId"/>; a
/// link lives here from its connect until its receive loop ended and the host heard of it.
/// </summary>
public sealed partial class PrimaryNode
{
    private readonly ConcurrentDictionary<LinkId, OpenLink> _links = new();
    private readonly Lock _tasksLock = new();
    private readonly List<Task> _linkTasks = new();
    private ITimer? _reconnectTimer;
    private long _nextLinkId;

    /// <summary>Bytes this primary has sent to its secondary on the current link, frame headers included.</summary>
    public long LinkBytesSent => _host is { } host ? LinkOf(host.CurrentLink)?.BytesSent ?? 0 : 0;

    /// <summary>What the status shows about the link.</summary>
    private string LinkState
    {
        get
        {
            PrimaryHost? host = _host;
            return host?.LinkState switch
            {
                PrimaryLinkState.Connected => $"connected to {LinkOf(host.CurrentLink)?.RemoteEndPoint ?? _options.Peer.ToString()}",
                PrimaryLinkState.Unreplicated => "none (replication off)",
                PrimaryLinkState.Fenced => $"fenced, not reconnecting: {host.FencedReason}",
                PrimaryLinkState.LostForGood => "secondary lost (reconnection off)",
                PrimaryLinkState.Reconnecting => $"secondary lost, reconnecting to {_options.Peer} (attempt {host.ReconnectAttempts})",
                _ => $"connecting to {_options.Peer}",
            };
        }
    }

    private FrameConnection? LinkOf(LinkId link) => _links.TryGetValue(link, out OpenLink? open) ? open.Connection : null;

    private void Connect(TimeSpan timeout) => Track(ConnectAsync(_options.Peer, timeout, PrimaryEventKind.LinkConnected, PrimaryEventKind.ConnectFailed));

    private void ConnectWitness(TimeSpan timeout) =>
        Track(ConnectAsync(_options.Witness ?? throw new InvalidOperationException("the host asked for a witness the node was not given"), timeout, PrimaryEventKind.WitnessConnected, PrimaryEventKind.WitnessConnectFailed));

    /// <summary>A connection to the secondary or the witness: the same transport and key, reported as the given events.</summary>
    private async Task ConnectAsync(IPEndPoint endPoint, TimeSpan timeout, PrimaryEventKind connected, PrimaryEventKind failed)
    {
        Socket socket;
        Stream stream;
        try
        {
            (socket, stream) = await LinkTransport.DialAsync(endPoint, _options.LinkKey, timeout, _options.LinkHandshakeTimeout, _time, _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or LinkAuthenticationException)
        {
            if (!_stopping.IsCancellationRequested)
            {
                Post(new PrimaryEvent(failed, Reason: e.Message));
            }

            return;
        }

        var connection = new FrameConnection(socket, stream, LinkLimits.MaxBodyLength(_options.MaxRequestBytes, _options.RamBytes, _options.PageSize), _time, _options.MirrorBatchBytes);
        connection.StartSending();
        var link = new LinkId(Interlocked.Increment(ref _nextLinkId));
        _links[link] = new OpenLink(connection);
        Post(new PrimaryEvent(connected, Link: link));
        await ReceiveLoopAsync(link, connection).ConfigureAwait(false);
    }

    /// <summary>Frames to the host until the link ends; then the host hears it closed, with why.</summary>
    private async Task ReceiveLoopAsync(LinkId link, FrameConnection connection)
    {
        string reason = "the secondary closed the link";
        try
        {
            await connection.ReceiveAsync(
                frame =>
                {
                    PrimaryInput input = PrimaryFrameDecoder.Decode(frame);
                    Post(new PrimaryEvent(PrimaryEventKind.Frame, Link: link, Input: input));
                    return !input.EndsLink;
                },
                _stopping.Token).ConfigureAwait(false);
        }
        catch (ProtocolViolationException e)
        {
            reason = e.Message;
            Post(new PrimaryEvent(PrimaryEventKind.Frame, Link: link, Input: PrimaryInput.Malformed(e.Message)));
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            reason = e.Message;
        }

        if (!_stopping.IsCancellationRequested)
        {
            Post(new PrimaryEvent(PrimaryEventKind.LinkClosed, Link: link, Reason: reason));
        }
    }

    private void CloseLink(LinkId link, string? reason)
    {
        if (_links.TryGetValue(link, out OpenLink? open))
        {
            open.Closing = open.Connection.CloseAsync(reason);
        }
    }

    /// <summary>On the event loop, once the host heard the link closed: disposed once its closing (the last Error frame) is done.</summary>
    private void ForgetLink(LinkId link)
    {
        if (_links.TryRemove(link, out OpenLink? open))
        {
            Track(DisposeLinkAsync(open));
        }
    }

    private static async Task DisposeLinkAsync(OpenLink open)
    {
        await open.Closing.ConfigureAwait(false);
        await open.Connection.DisposeAsync().ConfigureAwait(false);
    }

    private void ScheduleReconnect(TimeSpan delay)
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        _reconnectTimer?.Dispose();
        _reconnectTimer = _time.CreateTimer(_ => Post(new PrimaryEvent(PrimaryEventKind.ReconnectDue)), null, delay, Timeout.InfiniteTimeSpan);
    }

    private void Track(Task task)
    {
        lock (_tasksLock)
        {
            _linkTasks.RemoveAll(t => t.IsCompleted);
            _linkTasks.Add(task);
        }
    }

    /// <summary>On disposal, after the event loop ended: every link closed, every connect and receive loop ended, every link disposed.</summary>
    private async Task CloseLinksAsync()
    {
        _reconnectTimer?.Dispose();
        foreach (OpenLink open in _links.Values)
        {
            await open.Connection.CloseAsync(null).ConfigureAwait(false);
        }

        Task[] tasks;
        lock (_tasksLock)
        {
            tasks = _linkTasks.ToArray();
        }

        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        foreach (OpenLink open in _links.Values)
        {
            await DisposeLinkAsync(open).ConfigureAwait(false);
        }

        _links.Clear();
    }

    /// <summary>A connection the host may still name, and its closing if the host asked for one.</summary>
    private sealed class OpenLink(FrameConnection connection)
    {
        public FrameConnection Connection { get; } = connection;

        public Task Closing { get; set; } = Task.CompletedTask;
    }
}
