using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Replicator.Core.Diagnostics;
using Replicator.Protocol.Messages;
using Replicator.Hosts.Diagnostics;
using Replicator.Hosts.Links;
using Replicator.Hosts.Secondary;
using Replicator.Protocol.Framing;
using Replicator.Runtime.Links;
using Replicator.Runtime.Storage;

namespace Replicator.Runtime.Secondary;

/// <summary>
/// The secondary daemon's shell around its <see cref="SecondaryHost"/>: a listening socket, one
/// frame connection per primary, the host's loop, two storage lanes (the journal, and applying to
/// the image) and the heartbeat timer. It moves bytes and events; every decision is the host's.
/// </summary>
public sealed partial class SecondaryNode : IAsyncDisposable
{
    private readonly SecondaryNodeOptions _options;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly Channel<SecondaryEvent> _events = Channel.CreateUnbounded<SecondaryEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Channel<SecondaryStorageOperation> _journal = Channel.CreateUnbounded<SecondaryStorageOperation>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly Channel<SecondaryStorageOperation> _apply = Channel.CreateUnbounded<SecondaryStorageOperation>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly ConcurrentDictionary<LinkId, FrameConnection> _connections = new();
    private Task<byte[]>? _vmStateBuffer;
    private readonly TaskCompletionSource<long> _promoted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _fatal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private readonly SecondaryHost _host;
    private TcpListener? _listener;
    private ITimer? _heartbeat;
    private Task _loops = Task.CompletedTask;
    private readonly LogRateLimit _refusalLog;
    private long _nextLink;
    private readonly ConnectionAcceptor _acceptor;

    // The operator's failover waiting on the witness's vote: told here if the vote is refused.
    private TaskCompletionSource<string>? _operatorFailover;

    // The host's instruments: this node's own meter, gone with the node (a promoted daemon runs a new one beside it).
    private readonly Meter _meter = new(MeterNames.Secondary);

    public SecondaryNode(SecondaryNodeOptions options, ILogger<SecondaryNode> log, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _log = log;
        _time = time;
        var hostOptions = new SecondaryHostOptions
        {
            PairId = options.PairId,
            BlockSize = options.BlockSize,
            MaxRequestBytes = options.MaxRequestBytes,
            BufferCapacityBytes = options.BufferCapacityBytes,
            WritebackCapacityBytes = options.WritebackCapacityBytes,
            RamBytes = options.RamBytes,
            PageSize = options.PageSize,
            PageTerms = options.PageTerms,
            HeartbeatTimeout = options.HeartbeatTimeout,
            AutoFailover = options.AutoFailover,
            FenceCommand = options.FenceCommand,
            FenceTimeout = options.FenceTimeout,
            Witness = options.Witness is { } witness
                ? new Hosts.Witness.WitnessSessionOptions { Address = witness.ToString(), PairId = options.PairId, Timeout = options.HeartbeatTimeout }
                : null,
            FailoverDiscardingUnverifiable = options.FailoverDiscardingUnverifiable,
            Meter = _meter,
        };
        _host = new SecondaryHost(hostOptions, new Actions(this), log, time);
        _refusalLog = new LogRateLimit(time, hostOptions.RefusalReportInterval);
        _acceptor = new ConnectionAcceptor(options.MaxPendingLinks, "proving the pair key (--max-pending-links)", time);
    }

    public System.Net.IPEndPoint? LocalEndPoint => (System.Net.IPEndPoint?)_listener?.LocalEndpoint;

    /// <summary>Completes with the checkpoint the node holds once it is promoted (the image with <see cref="Takeover"/> laid over it, while that drains).</summary>
    public Task<long> Promotion => _promoted.Task;

    /// <summary>Once promoted, the committed epochs still draining into the image, which the new primary serves through; null before.</summary>
    public Core.Secondary.CommittedOverlay? Takeover => _host.Takeover;

    /// <summary>
    /// Once promoted, the VM state of the checkpoint taken over: the stored RAM image and vCPU
    /// state with the takeover's committed snapshots laid over them (the drain need not be over).
    /// </summary>
    public Core.Vm.VmState TakeoverVmState()
    {
        Hosts.Storage.SecondaryStore store = _host.Store ?? throw new InvalidOperationException("the secondary has not started");

        // The buffer is the state's from here: a node takes over once.
        byte[]? buffer = _vmStateBuffer is { IsCompletedSuccessfully: true } ready ? ready.Result : null;
        _vmStateBuffer = null;
        return store.LoadVmState(Takeover?.VmSnapshots ?? [], buffer);
    }

    /// <summary>
    /// Completes with a reason when the node must not go on: a primary of a different pair, image
    /// size, block size or protocol version asked to replicate here — a misconfigured pair that an
    /// operator has to fix — or storage failed.
    /// </summary>
    public Task<string> Fatal => _fatal.Task;

    public SecondaryStatus Status => _host.Status;

    public async Task StartAsync(CancellationToken cancellation)
    {
        IReadOnlyList<string> problems = _options.Validate();
        if (problems.Count > 0)
        {
            throw new InvalidOperationException("secondary options are invalid: " + string.Join("; ", problems));
        }

        _host.Start(ImageFile.Open(_options.ImagePath), new FileStorageDirectory(_options.StateDirectory));
        if (_options.KeepsVmStateBuffer)
        {
            // Off the start's path too: a promotion before it is ready reads into a fresh array.
            _vmStateBuffer = Task.Run(() =>
            {
                byte[] buffer = GC.AllocateUninitializedArray<byte>(checked((int)_options.RamBytes), pinned: true);
                Array.Clear(buffer);
                return buffer;
            });
        }

        ControlCodec.Prepare();
        _listener = new TcpListener(_options.Listen);
        _listener.Start();
        Log.Listening(_log, LocalEndPoint!.ToString());
        _heartbeat = _time.CreateTimer(_ => Post(new SecondaryEvent(SecondaryEventKind.HeartbeatTick)), null, _options.HeartbeatInterval, _options.HeartbeatInterval);
        _loops = Task.WhenAll(EventLoopAsync(), StorageLaneAsync(_journal.Reader), StorageLaneAsync(_apply.Reader), _acceptor.RunAsync(_listener, AdmitAsync, ReportRefusal, _stopping.Token));
        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <summary>
    /// Failover now: discard incomplete epochs, drain committed ones, and report the checkpoint held.
    /// Fails with the reason when this node must not take over (its image is mid-resync).
    /// </summary>
    public async Task<long> PromoteAsync()
    {
        var answer = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var refusedLater = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _operatorFailover, refusedLater);
        Post(new SecondaryEvent(SecondaryEventKind.Promote, Text: "operator", Answer: answer));
        string? refused = await answer.Task.ConfigureAwait(false);
        if (refused is not null)
        {
            throw new InvalidOperationException($"not promoted: {refused}");
        }

        // With a witness the promotion waits for its vote, which may be refused.
        if (await Task.WhenAny(_promoted.Task, refusedLater.Task).ConfigureAwait(false) == refusedLater.Task)
        {
            throw new InvalidOperationException($"not promoted: {await refusedLater.Task.ConfigureAwait(false)}");
        }

        return await _promoted.Task.ConfigureAwait(false);
    }

    /// <summary>
    /// A clean stop before <see cref="DisposeAsync"/>: no primary is followed any more and every
    /// committed epoch is applied, so the image file alone holds the last checkpoint. Returns false
    /// when <paramref name="bound"/> ran out first (what is left is in the journal, and the next
    /// start applies it).
    /// </summary>
    public async Task<bool> StopCleanlyAsync(TimeSpan bound)
    {
        var drained = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(new SecondaryEvent(SecondaryEventKind.Stop, Answer: drained));
        try
        {
            await drained.Task.WaitAsync(bound, _time).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _heartbeat?.Dispose();
        _listener?.Stop();
        _events.Writer.TryComplete();
        _journal.Writer.TryComplete();
        _apply.Writer.TryComplete();
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

        _host.Store?.Dispose();
        _stopping.Dispose();
        _meter.Dispose();
    }

    private void Post(in SecondaryEvent e) => _events.Writer.TryWrite(e);

    /// <summary>
    /// A new connection becomes a link only once its peer proved the pair key; until then it holds
    /// one of the pending places and no frame buffer, and is read by nothing but TLS.
    /// </summary>
    private async Task AdmitAsync(Socket socket, string peer)
    {
        Stream stream;
        try
        {
            stream = await LinkTransport.AcceptAsync(socket, _options.LinkKey, _options.LinkHandshakeTimeout, _time, _stopping.Token).ConfigureAwait(false);
        }
        catch (LinkAuthenticationException e)
        {
            socket.Dispose();
            if (!_stopping.IsCancellationRequested)
            {
                ReportRefusal(peer, e.Message);
            }

            return;
        }
        finally
        {
            _acceptor.Release();
        }

        var connection = new FrameConnection(socket, stream, LinkLimits.MaxBodyLength(_options.MaxRequestBytes, _options.RamBytes, _options.PageSize), _time);
        var link = new LinkId(Interlocked.Increment(ref _nextLink));
        _connections[link] = connection;
        connection.StartSending();
        Post(new SecondaryEvent(SecondaryEventKind.Connected, link, Text: connection.RemoteEndPoint));
        await ReceiveLoopAsync(link, connection).ConfigureAwait(false);
    }

    /// <summary>Connections refused before they became links: logged, at most one line per interval.</summary>
    private void ReportRefusal(string peer, string reason)
    {
        _host.Metrics?.ConnectionRefused(RefusalStage.Transport);
        if (_refusalLog.ShouldReport(out int heldBack))
        {
            Log.ConnectionRefused(_log, peer, reason, heldBack);
        }
    }
}
