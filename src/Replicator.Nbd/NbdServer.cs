using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Replicator.Core.Diagnostics;
using Replicator.Nbd.Logging;
using Replicator.Nbd.Server;

namespace Replicator.Nbd;

/// <summary>
/// An NBD server (fixed newstyle handshake; structured replies, block status and multi-connection for clients that ask) exporting one <see cref="INbdBackend"/>
/// under one name to up to <see cref="NbdServerOptions.MaxConnections"/> connections. A client's
/// mistake fails that request, or at worst closes that client's connection; it never touches the
/// others. What clients can make it hold is bounded (see <see cref="NbdServerOptions"/>).
/// </summary>
/// <example>
/// <code>
/// using var image = ImageFile.Open("disk.img"); // Replicator.Runtime.Storage: a raw image file
/// await using var server = new NbdServer(image, new NbdServerOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, 0), ExportName = "disk" }, logger);
/// server.Start();
/// // qemu-io -f raw nbd://127.0.0.1:{((IPEndPoint)server.LocalEndPoint).Port}/disk
/// await server.StopAsync();
///
/// // Or on a Unix socket, for clients on this host (the file is owner-only, removed on stop):
/// // EndPoint = NbdEndPoints.UnixSocket("/run/replicator/disk.sock")
/// // qemu-io -f raw 'nbd+unix:///disk?socket=/run/replicator/disk.sock'
/// </code>
/// </example>
public sealed class NbdServer : IAsyncDisposable
{
    private const int Backlog = 128;

    private readonly System.Diagnostics.Metrics.Meter? _meter;
    private readonly NbdServerOptions _options;
    private readonly INbdBackend _backend;
    private NbdServerContext? _context;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly LogRateLimit _overLimit;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<long, NbdConnection> _connections = new();
    private readonly object _lifecycle = new();
    private Socket? _listener;
    private UnixSocketFile? _socketFile;
    private EndPoint? _localEndPoint;
    private Task _acceptLoop = Task.CompletedTask;
    private Task? _stopped;
    private long _lastConnectionId;
    private int _open;

    /// <summary>
    /// Checks the options; nothing listens until <see cref="Listen"/> or <see cref="Start"/>, and the
    /// backend is asked for its geometry (and checked) only at <see cref="Start"/>, so a host may
    /// reserve the endpoint before the backend is ready.
    /// </summary>
    /// <param name="backend">The disk behind the export.</param>
    /// <param name="options">Where to listen and the limits; the defaults when null.</param>
    /// <param name="logger">Where connections, refusals and limits reached are logged.</param>
    /// <param name="time">The clock of the handshake timeout, the stop timeout, the accept loop's retry delay and the log's rate limits; the system's when null.</param>
    /// <param name="meter">Where refused connections are counted (<c>replicator.nbd.connections.refused</c>); not counted when null.</param>
    public NbdServer(INbdBackend backend, NbdServerOptions? options = null, ILogger? logger = null, TimeProvider? time = null, System.Diagnostics.Metrics.Meter? meter = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        _options = options ?? new NbdServerOptions();
        ArgumentNullException.ThrowIfNull(_options.EndPoint);
        CheckEndPoint(_options.EndPoint);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_options.MaxInFlightRequests);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_options.MaxInFlightBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_options.MaxConnections);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_options.MaxTotalInFlightBytes);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(_options.NegotiationTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.StopTimeout, TimeSpan.Zero);
        _logger = logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _overLimit = new LogRateLimit(_time, LogRateLimit.Interval);
        _backend = backend;
        _meter = meter;
    }

    /// <summary>
    /// Where the server listens: an <see cref="IPEndPoint"/> (with the real port when the options
    /// asked for port 0) or a <see cref="UnixDomainSocketEndPoint"/>; <see cref="NbdEndPoints.Describe"/>
    /// shows either. Valid after <see cref="Listen"/> or <see cref="Start"/>.
    /// </summary>
    public EndPoint LocalEndPoint => _localEndPoint ?? throw new InvalidOperationException("the server is not listening yet");

    /// <summary>Connections currently open, in handshake or transmission.</summary>
    public int ConnectionCount => _connections.Count;

    /// <summary>Bytes of requests read but not yet answered (payloads and reply buffers), across every connection: at most <see cref="NbdServerOptions.MaxTotalInFlightBytes"/> and one request per connection.</summary>
    public long InFlightBytes => _context?.InFlight.Bytes ?? 0;

    /// <summary>The most <see cref="InFlightBytes"/> ever was.</summary>
    internal long PeakInFlightBytes => _context?.InFlight.PeakBytes ?? 0;

    /// <summary>Completes once no request is held anywhere, including requests dropped with their connection that the backend has not yet returned.</summary>
    internal Task WhenNothingInFlightAsync(CancellationToken cancellationToken) => _context?.InFlight.WhenIdleAsync(cancellationToken) ?? Task.CompletedTask;

    /// <summary>
    /// Binds and listens without accepting yet: a client that connects waits in the backlog until
    /// <see cref="Start"/>. A host calls it first to learn at once, before it does anything it cannot
    /// take back, that the endpoint is free. On a Unix socket path the file is owner-only (mode
    /// 0600) before any client can connect; a stale socket there (nobody accepting on it) is
    /// replaced, while a socket someone listens on, or a file of any other type, throws
    /// <see cref="IOException"/> naming the path and leaves it as it is. Does nothing when already
    /// listening.
    /// </summary>
    public void Listen()
    {
        lock (_lifecycle)
        {
            ListenLocked();
        }
    }

    /// <summary>
    /// Asks the backend for its geometry (an <see cref="ArgumentException"/> when it cannot be
    /// exported), listens unless <see cref="Listen"/> already did, and starts accepting connections.
    /// </summary>
    public void Start()
    {
        lock (_lifecycle)
        {
            if (_context is not null || _stopped is not null)
            {
                throw new InvalidOperationException("an NBD server starts once");
            }

            var context = new NbdServerContext(_backend, new NbdExport(_backend, _options), _options, _logger, _time, new NbdRefusals(_meter));
            ListenLocked();
            _context = context;
            _logger.Listening(NbdEndPoints.Describe(_localEndPoint!), context.Export.Name, context.Export.Size, context.Export.Flags);
            _acceptLoop = new AcceptLoop(_listener!.AcceptAsync, Admit, _time, _logger).RunAsync(_stopping.Token);
        }
    }

    private void ListenLocked()
    {
        if (_stopped is not null)
        {
            throw new InvalidOperationException("the NBD server has stopped");
        }

        if (_listener is null)
        {
            _listener = Bind(_options.EndPoint, out _socketFile);
            _localEndPoint = _listener.LocalEndPoint!;
        }
    }

    /// <summary>
    /// Stops accepting, stops reading new requests, lets every request already received finish and
    /// reply, then closes the connections. Connections still busy after
    /// <see cref="NbdServerOptions.StopTimeout"/>, or when <paramref name="cancellationToken"/> fires
    /// first, are closed at once and their pending replies dropped, so a client that stopped reading
    /// or died silently cannot hold the stop up. Requests the backend is still running then are
    /// canceled and not waited for.
    /// </summary>
    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        lock (_lifecycle)
        {
            _stopped ??= StopCoreAsync(cancellationToken);
            return _stopped;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task StopCoreAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_listener is null)
        {
            return;
        }

        _listener.Dispose();

        // At once, not after the clients finish: nothing accepts on it any more, so it is only a stale file now.
        _socketFile?.Remove();
        await _acceptLoop.ConfigureAwait(false);
        NbdConnection[] connections = [.. _connections.Values];

        // The bound starts before the line that announces it, so whoever reads the line knows it runs.
        using var bound = new CancellationTokenSource(_options.StopTimeout, _time);
        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(bound.Token, cancellationToken);
        string endPoint = NbdEndPoints.Describe(LocalEndPoint);
        _logger.Stopping(endPoint, connections.Length);
        Task all = Task.WhenAll(connections.Select(connection => connection.Completion));
        try
        {
            await all.WaitAsync(waiting.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (waiting.IsCancellationRequested)
        {
            int busy = connections.Count(connection => !connection.Completion.IsCompleted);
            if (cancellationToken.IsCancellationRequested)
            {
                _logger.StopAborted(endPoint);
            }
            else
            {
                _logger.StopTimedOut(endPoint, busy, _options.StopTimeout);
            }

            foreach (NbdConnection connection in connections)
            {
                connection.Abort();
            }

            // Aborted connections close their sockets without waiting for the backend or the client.
            await all.ConfigureAwait(false);
        }
    }

    /// <summary>Takes an accepted socket: closed at once over the connection limit, else a connection of its own. Never throws.</summary>
    private void Admit(Socket client)
    {
        EndPoint? remote = RemoteOf(client);
        if (Interlocked.Increment(ref _open) > _options.MaxConnections)
        {
            Interlocked.Decrement(ref _open);
            _context!.Refusals.OverLimit();

            // Counted before the close, so a client that sees the close has been counted.
            if (_overLimit.ShouldReport(out int heldBack))
            {
                _logger.OverConnectionLimit(remote, _options.MaxConnections, heldBack);
            }

            client.Dispose();
            return;
        }

        try
        {
            // Replies are whole messages written at once; Nagle would only hold them back. (TCP's
            // alone: a Unix socket has no Nagle, and refuses the option.)
            if (client.ProtocolType == ProtocolType.Tcp)
            {
                client.NoDelay = true;
            }
        }
        catch (SocketException ex)
        {
            // Reset between accept and here.
            Interlocked.Decrement(ref _open);
            _logger.AdmitFailed(remote, ex.Message);
            client.Dispose();
            return;
        }

        long id = Interlocked.Increment(ref _lastConnectionId);
        var connection = new NbdConnection(id, client, remote, _context!);
        _connections[id] = connection;
        connection.Completion = RunConnectionAsync(id, connection);
    }

    private async Task RunConnectionAsync(long id, NbdConnection connection)
    {
        try
        {
            // Off the accept loop at once: the handshake's first write may complete synchronously.
            await Task.Yield();
            await connection.RunAsync(_stopping.Token).ConfigureAwait(false);
        }
        finally
        {
            _connections.TryRemove(id, out _);
            Interlocked.Decrement(ref _open);
        }
    }

    /// <summary>Only the end points the server knows how to listen on, and a Unix socket only with a path (an abstract name has no file to make owner-only).</summary>
    private static void CheckEndPoint(EndPoint endPoint)
    {
        switch (endPoint)
        {
            case IPEndPoint:
                return;
            case UnixDomainSocketEndPoint unix when NbdEndPoints.PathOf(unix) is not null:
                return;
            case UnixDomainSocketEndPoint unix:
                throw new ArgumentException($"NbdServerOptions.EndPoint '{unix}' is an abstract or unnamed Unix socket address; the server listens only on a socket path, which it makes owner-only", nameof(endPoint));
            default:
                throw new ArgumentException($"NbdServerOptions.EndPoint must be an IPEndPoint (TCP) or a UnixDomainSocketEndPoint (a socket path), not a {endPoint.GetType().Name} ({endPoint})", nameof(endPoint));
        }
    }

    /// <summary>A listening socket at <paramref name="endPoint"/>; for a Unix socket path, also its <paramref name="socketFile"/>.</summary>
    private static Socket Bind(EndPoint endPoint, out UnixSocketFile? socketFile)
    {
        socketFile = null;
        if (endPoint is UnixDomainSocketEndPoint unix)
        {
            Socket unixListener = UnixSocketFile.Listen(NbdEndPoints.PathOf(unix)!, Backlog, out UnixSocketFile file);
            socketFile = file;
            return unixListener;
        }

        var listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(endPoint);
            listener.Listen(Backlog);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        return listener;
    }

    private static EndPoint? RemoteOf(Socket socket)
    {
        try
        {
            return socket.RemoteEndPoint;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return null; // gone already; the log says "from " and nothing
        }
    }
}
