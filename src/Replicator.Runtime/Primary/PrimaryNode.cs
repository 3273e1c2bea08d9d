using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Replicator.Hosts.Storage;
using Replicator.Core.Blocks;
using Replicator.Core.Primary;
using Replicator.Core.Vm;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using Replicator.Runtime.Links;
using Replicator.Runtime.Storage;

namespace Replicator.Runtime.Primary;

/// <summary>
/// The primary daemon's driver: connects to the secondary, shakes hands, and runs the primary
/// engine on one loop. Guest requests come in through <see cref="Submit"/> (the NBD export or the
/// synthetic guest); local I/O runs on a few workers; checkpoints fire on the epoch interval.
/// </summary>
public sealed partial class PrimaryNode : IAsyncDisposable
{
    private readonly PrimaryNodeOptions _options;
    private readonly IVirtualMachine _vm;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly Channel<PrimaryEvent> _events = Channel.CreateUnbounded<PrimaryEvent>(new UnboundedChannelOptions { SingleReader = true });
    // Requests issued to the local disk: the event struct reused for its id, request and payload.
    private readonly Channel<PrimaryEvent> _localIo = Channel.CreateUnbounded<PrimaryEvent>(new UnboundedChannelOptions { SingleWriter = true });
    private readonly Dictionary<long, TaskCompletionSource<RequestStatus>> _completions = new();
    private readonly List<(long Epoch, TaskCompletionSource<long> Waiter)> _checkpointWaiters = new();
    private readonly Queue<(long Epoch, long Start)> _checkpointStarts = new();
    private readonly Dictionary<long, long> _resumedAt = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Actions _actions;
    private ImageFile? _image;
    private PrimaryEngine? _engine;
    private FrameConnection? _link;
    private ITimer? _epochTimer;
    private ITimer? _heartbeat;
    private PairIdentity? _identity;
    private Task _loops = Task.CompletedTask;
    private Task _receiveLoop = Task.CompletedTask;
    private long _nextRequestId;
    private NodeStateStore? _states;
    private NodeState? _state;

    public PrimaryNode(PrimaryNodeOptions options, IVirtualMachine vm, ILogger<PrimaryNode> log, TimeProvider time)
    {
        _options = options;
        _vm = vm;
        _log = log;
        _time = time;
        _actions = new Actions(this);
    }

    /// <summary>
    /// Called on the engine's loop, in completion order, before the request's task completes, with
    /// the completion's <see cref="Task.AsyncState"/>: the synthetic guest models its disk with it,
    /// since task continuations could run out of order.
    /// </summary>
    public Action<object?, RequestStatus>? GuestRequestCompleted { get; set; }

    public long ImageBytes => _image?.Size ?? 0;

    /// <summary>Called on the engine's loop when a checkpoint is acknowledged, with its pause and commit latency.</summary>
    public Action<CheckpointTiming>? CheckpointCompleted { get; set; }

    /// <summary>
    /// Called on the engine's loop when replication changes: degraded (with the reason), resyncing
    /// over a new link, protected again (the resync acknowledged).
    /// </summary>
    public Action<PrimaryReplication, string?>? ReplicationChanged { get; set; }

    /// <summary>Called once if the secondary turns out to have been promoted: the primary then stays degraded and stops reconnecting (I6).</summary>
    public Action<string>? FencedOff { get; set; }

    public PrimaryStatus Status
    {
        get
        {
            PrimaryEngine? e = _engine;
            return new PrimaryStatus(
                e?.Phase.ToString() ?? "starting", e?.CurrentEpoch ?? 0, e?.LastAcknowledgedEpoch ?? 0, e?.UnacknowledgedCheckpoints ?? 0,
                e?.InFlightCount ?? 0, e?.QueuedCount ?? 0, e?.CreditAvailable ?? 0,
                LinkState, e?.DegradedReason, e?.Replication.ToString() ?? "starting", Volatile.Read(ref _reconnectAttempts),
                e?.ResyncBytesLeft ?? 0, e?.ResyncRegionsLeft ?? 0);
        }
    }

    /// <summary>Connects and shakes hands. Throws <see cref="HandshakeRefusedException"/> when the secondary refuses this pair.</summary>
    public async Task StartAsync(CancellationToken cancellation)
    {
        IReadOnlyList<string> problems = _options.Validate();
        if (problems.Count > 0)
        {
            throw new InvalidOperationException("primary options are invalid: " + string.Join("; ", problems));
        }

        var states = new NodeStateStore(new FileStorageDirectory(_options.StateDirectory));
        NodeState state = states.Load() ?? new NodeState { PairId = _options.PairId, Role = NodeRole.Primary };
        if (!string.Equals(state.PairId, _options.PairId, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"state directory {_options.StateDirectory} belongs to pair '{state.PairId}', not '{_options.PairId}'");
        }

        states.Save(state);
        _image = ImageFile.Open(_options.ImagePath);
        if (_options.Unreplicated)
        {
            StartUnreplicated(states, state);
            return;
        }

        _identity = new PairIdentity { PairId = _options.PairId, ImageBytes = _image.Size, BlockSize = _options.BlockSize, MaxRequestBytes = _options.MaxRequestBytes, Generation = state.Generation };
        (FrameConnection link, WelcomeMessage welcome) = await HandshakeAsync(cancellation).ConfigureAwait(false);

        // The pair may only go on where both images are known equal: a fresh pair (both at 0), or
        // a primary that stopped cleanly after a final checkpoint the secondary holds.
        if (welcome.LastCommittedEpoch != state.AppliedEpoch)
        {
            string mismatch = $"the secondary holds checkpoint {welcome.LastCommittedEpoch} but this primary was last known equal to it at checkpoint {(state.AppliedEpoch < 0 ? "none (it did not stop cleanly)" : state.AppliedEpoch.ToString(System.Globalization.CultureInfo.InvariantCulture))}: the images may differ; make the secondary's image a fresh copy of the primary's";
            await link.CloseAsync(mismatch).ConfigureAwait(false);
            await link.DisposeAsync().ConfigureAwait(false);
            throw new HandshakeRefusedException($"the secondary at {_options.Peer} is not this pair's: {mismatch}");
        }

        // Until a clean stop says otherwise, the images are not known to be equal.
        _states = states;
        _state = state with { AppliedEpoch = -1 };
        states.Save(_state);
        _link = link;
        _engine = new PrimaryEngine(
            new PrimaryOptions
            {
                Geometry = new BlockGeometry(_image.Size, _options.MaxRequestBytes),
                SecondaryBufferBytes = welcome.BufferCapacityBytes,
                FirstEpoch = welcome.LastCommittedEpoch + 1,
                FirstSequence = welcome.LastCommittedSequence + 1,
            },
            _actions);
        Log.Connected(_log, _options.Peer.ToString(), welcome.LastCommittedEpoch, welcome.BufferCapacityBytes);

        var loops = new List<Task> { EventLoopAsync() };
        for (int i = 0; i < _options.LocalIoWorkers; i++)
        {
            loops.Add(LocalIoLoopAsync());
        }

        _loops = Task.WhenAll(loops);
        _receiveLoop = ReceiveLoopAsync(link);
        _epochTimer = _time.CreateTimer(_ => Post(new PrimaryEvent(PrimaryEventKind.IntervalElapsed)), null, _options.EpochInterval, _options.EpochInterval);
        _heartbeat = _time.CreateTimer(_ => Post(new PrimaryEvent(PrimaryEventKind.HeartbeatDue)), null, _options.HeartbeatInterval, _options.HeartbeatInterval);
    }

    /// <summary>Reads the primary's own image (what the guest sees).</summary>
    public void Read(long offset, Span<byte> destination) => _image!.Read(offset, destination);

    /// <summary>A guest request. Returns its id; <paramref name="completion"/> completes when the local disk finished it.</summary>
    public long Submit(BlockRequest request, ReadOnlyMemory<byte> payload, TaskCompletionSource<RequestStatus> completion)
    {
        long id = Interlocked.Increment(ref _nextRequestId);
        Post(new PrimaryEvent(PrimaryEventKind.Submit, id, request, payload, completion));
        return id;
    }

    /// <summary>Takes a checkpoint now; completes with its epoch once the secondary acknowledged it, or fails if replication is degraded.</summary>
    public Task<long> CheckpointAsync()
    {
        var waiter = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(new PrimaryEvent(PrimaryEventKind.CheckpointRequested, CheckpointWaiter: waiter));
        return waiter.Task;
    }

    /// <summary>
    /// A clean stop: takes a last checkpoint and, once the secondary acknowledged it, records that
    /// both images are equal at it, so the pair may start again from there. Call with the guest
    /// quiet (no requests being submitted).
    /// </summary>
    public async Task StopCleanlyAsync(CancellationToken cancellation)
    {
        // No interval checkpoint may follow the last one: the secondary must end where the record says.
        _epochTimer?.Dispose();
        long requested = await CheckpointAsync().WaitAsync(cancellation).ConfigureAwait(false);
        long epoch = Math.Max(requested, _engine!.LastAcknowledgedEpoch);
        _states!.Save(_state! with { AppliedEpoch = epoch });
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _epochTimer?.Dispose();
        _heartbeat?.Dispose();
        _events.Writer.TryComplete();
        _localIo.Writer.TryComplete();
        FrameConnection? link = _link;
        if (link is not null)
        {
            await link.CloseAsync(null).ConfigureAwait(false);
        }

        try
        {
            await Task.WhenAll(_loops, _receiveLoop, _reconnect).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        if (link is not null)
        {
            await link.DisposeAsync().ConfigureAwait(false);
        }

        _image?.Dispose();
        _stopping.Dispose();
    }

    private void Post(in PrimaryEvent e) => _events.Writer.TryWrite(e);

    /// <summary>
    /// Connects to the secondary and shakes hands: the hello, then its welcome (what it holds) or its
    /// refusal. Returns the link, ready to carry the stream; throws <see cref="HandshakeRefusedException"/>
    /// (fenced when the secondary was promoted or moved to a newer generation) or a socket error.
    /// </summary>
    private async Task<(FrameConnection Link, WelcomeMessage Welcome)> HandshakeAsync(CancellationToken cancellation)
    {
        var socket = new Socket(_options.Peer.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(_options.Peer, cancellation).AsTask().WaitAsync(_options.HeartbeatTimeout, _time, cancellation).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var link = new FrameConnection(socket, LinkLimits.MaxBodyLength(_options.MaxRequestBytes, _options.RamBytes, _options.PageSize), _time);
        link.StartSending();
        try
        {
            PairIdentity identity = _identity!;
            link.SendControl(FrameType.Hello, new HelloMessage { ProtocolVersion = Handshake.ProtocolVersion, Identity = identity });
            object? answer = await link.ReceiveOneAsync<object>(
                f => f.Type == FrameType.Error ? ControlCodec.Decode<ErrorMessage>(f, FrameType.Error) : ControlCodec.Decode<WelcomeMessage>(f, FrameType.Welcome),
                cancellation).WaitAsync(_options.HeartbeatTimeout, _time, cancellation).ConfigureAwait(false);
            if (answer is not WelcomeMessage welcome)
            {
                ErrorMessage? error = answer as ErrorMessage;
                throw new HandshakeRefusedException($"the secondary at {_options.Peer} refused this primary: {error?.Reason ?? "it closed the link during the handshake"}", error?.Fenced ?? false);
            }

            // I6: only a secondary of this very generation is ever written to.
            HandshakeVerdict verdict = Handshake.CheckWelcome(welcome, identity);
            bool fenced = verdict.Outcome == HandshakeOutcome.Fenced;
            string? mismatch = verdict.Reason;
            long smallestCredit = 2L * (_options.MaxRequestBytes + Core.Epochs.MirrorRecord.RecordOverheadBytes);
            if (mismatch is null && welcome.BufferCapacityBytes < smallestCredit)
            {
                mismatch = $"the secondary has only {welcome.BufferCapacityBytes} bytes of buffer free (at least {smallestCredit} needed): it is still draining an earlier session; start again shortly";
            }

            if (mismatch is not null)
            {
                await link.CloseAsync(mismatch).ConfigureAwait(false);
                throw new HandshakeRefusedException($"the secondary at {_options.Peer} is not this pair's: {mismatch}", fenced);
            }

            return (link, welcome);
        }
        catch
        {
            await link.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
