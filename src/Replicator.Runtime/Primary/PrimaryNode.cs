using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
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
    private Task _loops = Task.CompletedTask;
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

    public PrimaryStatus Status
    {
        get
        {
            PrimaryEngine? e = _engine;
            return new PrimaryStatus(
                e?.Phase.ToString() ?? "starting", e?.CurrentEpoch ?? 0, e?.LastAcknowledgedEpoch ?? 0, e?.UnacknowledgedCheckpoints ?? 0,
                e?.InFlightCount ?? 0, e?.QueuedCount ?? 0, e?.CreditAvailable ?? 0,
                _link is { IsClosed: false } ? $"connected to {_link.RemoteEndPoint}" : _options.Unreplicated ? "none (replication off)" : "secondary lost", e?.DegradedReason);
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

        Directory.CreateDirectory(_options.StateDirectory);
        var states = new NodeStateStore(_options.StateDirectory);
        NodeState state = states.Load() ?? new NodeState { PairId = _options.PairId, Role = "primary" };
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

        var socket = new Socket(_options.Peer.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_options.Peer, cancellation).ConfigureAwait(false);
        var link = new FrameConnection(socket, LinkLimits.MaxBodyLength(_options.MaxRequestBytes, _options.RamBytes, _options.PageSize), _time);
        link.StartSending();
        var identity = new PairIdentity { PairId = _options.PairId, ImageBytes = _image.Size, BlockSize = _options.BlockSize, Generation = state.Generation };
        link.SendControl(FrameType.Hello, new HelloMessage { ProtocolVersion = Handshake.ProtocolVersion, Identity = identity });

        object? answer = await link.ReceiveOneAsync<object>(
            f => f.Type == FrameType.Error ? ControlCodec.Decode<ErrorMessage>(f, FrameType.Error) : ControlCodec.Decode<WelcomeMessage>(f, FrameType.Welcome),
            cancellation).WaitAsync(_options.HeartbeatTimeout, _time, cancellation).ConfigureAwait(false);
        if (answer is not WelcomeMessage welcome)
        {
            string reason = answer is ErrorMessage error ? error.Reason : "the secondary closed the link during the handshake";
            await link.DisposeAsync().ConfigureAwait(false);
            throw new HandshakeRefusedException($"the secondary at {_options.Peer} refused this primary: {reason}");
        }

        // The pair may only go on where both images are known equal: a fresh pair (both at 0), or
        // a primary that stopped cleanly after a final checkpoint the secondary holds.
        string? mismatch = Handshake.Check(welcome.ProtocolVersion, welcome.Identity, identity)
            ?? (welcome.LastCommittedEpoch != state.AppliedEpoch
                ? $"the secondary holds checkpoint {welcome.LastCommittedEpoch} but this primary was last known equal to it at checkpoint {(state.AppliedEpoch < 0 ? "none (it did not stop cleanly)" : state.AppliedEpoch.ToString(System.Globalization.CultureInfo.InvariantCulture))}: the images may differ; make the secondary's image a fresh copy of the primary's"
                : null);
        long smallestCredit = 2L * (_options.MaxRequestBytes + Core.Epochs.MirrorRecord.RecordOverheadBytes);
        if (mismatch is null && welcome.BufferCapacityBytes < smallestCredit)
        {
            mismatch = $"the secondary has only {welcome.BufferCapacityBytes} bytes of buffer free (at least {smallestCredit} needed): it is still draining an earlier session; start again shortly";
        }

        if (mismatch is not null)
        {
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

        var loops = new List<Task> { EventLoopAsync(), ReceiveLoopAsync(link) };
        for (int i = 0; i < _options.LocalIoWorkers; i++)
        {
            loops.Add(LocalIoLoopAsync());
        }

        _loops = Task.WhenAll(loops);
        _epochTimer = _time.CreateTimer(_ => Post(new PrimaryEvent(PrimaryEventKind.IntervalElapsed)), null, _options.EpochInterval, _options.EpochInterval);
        _heartbeat = _time.CreateTimer(_ => OnHeartbeatTick(), null, _options.HeartbeatInterval, _options.HeartbeatInterval);
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

        if (_link is not null)
        {
            await _link.DisposeAsync().ConfigureAwait(false);
        }

        _image?.Dispose();
        _stopping.Dispose();
    }

    private void Post(in PrimaryEvent e) => _events.Writer.TryWrite(e);

    private void OnHeartbeatTick()
    {
        FrameConnection? link = _link;
        if (link is null || link.IsClosed)
        {
            return;
        }

        if (_time.GetElapsedTime(link.LastReceived) > _options.HeartbeatTimeout)
        {
            _ = link.CloseAsync("heartbeat timeout");
            Post(new PrimaryEvent(PrimaryEventKind.LinkLost, Reason: $"no frame from the secondary for {_options.HeartbeatTimeout.TotalMilliseconds} ms"));
            return;
        }

        link.SendControl(FrameType.Heartbeat, new HeartbeatMessage { Epoch = _engine?.CurrentEpoch ?? 0 });
    }
}
