using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Replicator.Hosts.Storage;
using Replicator.Core.Blocks;
using Replicator.Core.Secondary;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using Replicator.Runtime.Links;
using Replicator.Runtime.Storage;

namespace Replicator.Runtime.Secondary;

/// <summary>
/// The secondary daemon's driver: accepts the primary's link, checks its identity, and runs the
/// secondary engine on one loop, with storage actions run in order on a second loop.
/// </summary>
public sealed partial class SecondaryNode : IAsyncDisposable
{
    private readonly SecondaryNodeOptions _options;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly Channel<SecondaryEvent> _events = Channel.CreateUnbounded<SecondaryEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Channel<StorageOperation> _storage = Channel.CreateUnbounded<StorageOperation>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    // Journal appends (the commit point, on the acknowledgement's path) run apart from applying
    // earlier epochs to the image, so a slow apply never delays a commit.
    private readonly Channel<StorageOperation> _journal = Channel.CreateUnbounded<StorageOperation>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly TaskCompletionSource<long> _promoted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _fatal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Actions _actions;
    private SecondaryStore? _store;
    private SecondaryEngine? _engine;
    private TcpListener? _listener;
    private FrameConnection? _link;

    private ITimer? _heartbeat;
    private Task _loops = Task.CompletedTask;
    private long _lastPrimaryContact;

    // Buffer bytes charged by the current primary's records and not yet given back (event loop only).
    private long _creditOwed;
    private int _autoFailoverStarted;

    public SecondaryNode(SecondaryNodeOptions options, ILogger<SecondaryNode> log, TimeProvider time)
    {
        _options = options;
        _log = log;
        _time = time;
        _actions = new Actions(this);
    }

    public System.Net.IPEndPoint? LocalEndPoint => (System.Net.IPEndPoint?)_listener?.LocalEndpoint;

    /// <summary>Completes with the checkpoint the node holds once it is promoted.</summary>
    public Task<long> Promotion => _promoted.Task;

    /// <summary>
    /// Completes with a reason when the node must not go on: a primary of a different pair, image
    /// size, block size or protocol version asked to replicate here — a misconfigured pair that an
    /// operator has to fix — or storage failed.
    /// </summary>
    public Task<string> Fatal => _fatal.Task;

    public SecondaryStatus Status => new(
        _engine?.Phase.ToString() ?? "starting",
        _engine?.LastCommittedEpoch ?? 0,
        _engine?.LastAppliedEpoch ?? 0,
        _engine?.BufferedBytes ?? 0,
        _options.BufferCapacityBytes,
        _link is { IsClosed: false } ? $"connected to {_link.RemoteEndPoint}" : "no primary",
        _engine is not { IsResyncing: true } engine ? null
            : engine.CommittedMidResync ? "in progress: the image is mid-resync and holds no checkpoint until it completes"
            : "started: nothing of it is committed yet");

    public async Task StartAsync(CancellationToken cancellation)
    {
        IReadOnlyList<string> problems = _options.Validate();
        if (problems.Count > 0)
        {
            throw new InvalidOperationException("secondary options are invalid: " + string.Join("; ", problems));
        }

        _store = SecondaryStore.Open(ImageFile.Open(_options.ImagePath), new FileStorageDirectory(_options.StateDirectory), _options.PairId, _options.RamBytes, _options.PageSize);
        var geometry = new BlockGeometry(_store.Image.Size, _options.MaxRequestBytes);
        _engine = _store.CreateEngine(new SecondaryOptions { Geometry = geometry, BufferCapacityBytes = _options.BufferCapacityBytes, VmPageCount = _options.RamBytes / _options.PageSize, VmPageSize = _options.PageSize }, _actions);
        Log.Started(_log, _options.ImagePath, _store.State.AppliedEpoch, _store.Unapplied.Count);

        _listener = new TcpListener(_options.Listen);
        _listener.Start();
        Log.Listening(_log, LocalEndPoint!.ToString());
        _heartbeat = _time.CreateTimer(_ => OnHeartbeatTick(), null, _options.HeartbeatInterval, _options.HeartbeatInterval);
        _loops = Task.WhenAll(EventLoopAsync(), StorageLoopAsync(_storage.Reader), StorageLoopAsync(_journal.Reader), AcceptLoopAsync());
        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <summary>
    /// Failover now: discard incomplete epochs, drain committed ones, and report the checkpoint held.
    /// Fails with the reason when this node must not take over (its image is mid-resync).
    /// </summary>
    public async Task<long> PromoteAsync()
    {
        var answer = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        _events.Writer.TryWrite(new SecondaryEvent(SecondaryEventKind.Promote, Reason: "operator", Answer: answer));
        string? refused = await answer.Task.ConfigureAwait(false);
        return refused is null ? await _promoted.Task.ConfigureAwait(false) : throw new InvalidOperationException($"not promoted: {refused}");
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _heartbeat?.Dispose();
        _listener?.Stop();
        _events.Writer.TryComplete();
        _storage.Writer.TryComplete();
        _journal.Writer.TryComplete();
        if (_link is not null)
        {
            await _link.CloseAsync(null).ConfigureAwait(false);
        }

        try
        {
            await _loops.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _store?.Dispose();
        _stopping.Dispose();
    }

    private void Post(in SecondaryEvent e) => _events.Writer.TryWrite(e);

    private void OnHeartbeatTick()
    {
        FrameConnection? link = _link;
        if (link is null || link.IsClosed)
        {
            // The primary is gone (its connection reset, or it never came back): once it has been
            // silent for the timeout, take over if allowed to.
            long lastContact = Interlocked.Read(ref _lastPrimaryContact);
            if (_options.AutoFailover && lastContact != 0 && _time.GetElapsedTime(lastContact) > _options.HeartbeatTimeout
                && Interlocked.Exchange(ref _autoFailoverStarted, 1) == 0)
            {
                Post(new SecondaryEvent(SecondaryEventKind.Promote, Reason: $"no primary for {_options.HeartbeatTimeout.TotalMilliseconds} ms"));
            }

            return;
        }

        Interlocked.Exchange(ref _lastPrimaryContact, link.LastReceived);
        if (_time.GetElapsedTime(link.LastReceived) > _options.HeartbeatTimeout)
        {
            Log.HeartbeatTimeout(_log, link.RemoteEndPoint, _options.HeartbeatTimeout.TotalMilliseconds);
            _ = link.CloseAsync("heartbeat timeout");
            return;
        }

        // Nothing goes out on a link before its welcome.
        if (Volatile.Read(ref _welcomed) == link)
        {
            link.SendControl(FrameType.Heartbeat, new HeartbeatMessage { Epoch = _engine?.LastCommittedEpoch ?? 0 });
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener!.AcceptSocketAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            var connection = new FrameConnection(socket, LinkLimits.MaxBodyLength(_options.MaxRequestBytes, _options.RamBytes, _options.PageSize), _time);
            connection.StartSending();
            _ = ServeLinkAsync(connection);
        }
    }
}
