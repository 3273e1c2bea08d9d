using System.Diagnostics.Metrics;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Replicator.Protocol.Messages;
using Replicator.Core.Blocks;
using Replicator.Core.Primary;
using Replicator.Core.Secondary;
using Replicator.Core.Vm;
using Replicator.Hosts.Diagnostics;
using Replicator.Hosts.Primary;
using Replicator.Hosts.Witness;
using Replicator.Nbd.Protocol;
using Replicator.Runtime.Links;
using Replicator.Runtime.Storage;

namespace Replicator.Runtime.Primary;

/// <summary>
/// The primary daemon: a thin shell over <see cref="PrimaryHost"/>, which decides everything. The
/// shell moves bytes: guest requests in through <see cref="Submit"/> (the NBD export or the synthetic
/// guest), local I/O on a few workers, frames over TCP, timers (epoch, heartbeat, reconnect), all
/// handed to the host on one loop.
/// </summary>
public sealed partial class PrimaryNode : IAsyncDisposable
{
    public const string UnreplicatedReason = PrimaryHost.UnreplicatedReason;

    private readonly PrimaryNodeOptions _options;
    private readonly IVirtualMachine _vm;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly Channel<PrimaryEvent> _events = Channel.CreateUnbounded<PrimaryEvent>(new UnboundedChannelOptions { SingleReader = true });
    // Requests issued to the local disk: the event struct reused for its id, request and payload.
    // The local I/O workers' queues: made at start, once the options are known good.
    private LocalIoLanes? _localIo;
    // The dirty log's operations, run in order by one worker so a slow image flush never holds up the guest's I/O.
    private readonly Channel<DirtyLogOperation> _dirtyLog = Channel.CreateUnbounded<DirtyLogOperation>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly TaskCompletionSource<PrimaryStart> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Actions _actions;
    private ImageFile? _image;
    private PrimaryHost? _host;
    private ITimer? _epochTimer;
    private ITimer? _heartbeat;
    private Task _loops = Task.CompletedTask;
    private long _nextRequestId;
    private int _disposed;

    // The host's instruments: this node's own meter, gone with the node.
    private readonly Meter _meter = new(MeterNames.Primary);

    /// <summary>The VM's pause failed off the loop (<see cref="PrimaryNodeOptions.GuestPausesLater"/>), with why.</summary>
    public event Action<string>? VmPauseFailed;

    public PrimaryNode(PrimaryNodeOptions options, IVirtualMachine vm, ILogger<PrimaryNode> log, TimeProvider time)
    {
        _options = options;
        _vm = vm;
        _log = log;
        _time = time;
        _actions = new Actions(this);
    }

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

    /// <summary>This node's meter (its host's instruments): the export's server counts its refused connections there too.</summary>
    public Meter Meter => _meter;

    public PrimaryStatus Status
    {
        get
        {
            PrimaryHost? host = _host;
            PrimaryEngine? e = host?.Engine;
            SyncProgress? sync = host?.Sync;
            return new PrimaryStatus(
                e?.Phase.ToString() ?? "starting", e?.CurrentEpoch ?? 0, e?.LastAcknowledgedEpoch ?? 0, e?.UnacknowledgedCheckpoints ?? 0,
                e?.InFlightCount ?? 0, e?.QueuedCount ?? 0, e?.CreditAvailable ?? 0,
                LinkState, e?.DegradedReason, e?.Replication.ToString() ?? "starting", host?.ReconnectAttempts ?? 0,
                e?.ResyncBytesLeft ?? 0, e?.ResyncRegionsLeft ?? 0,
                host?.LastProtection.State.ToString() ?? nameof(PairProtection.Starting), host?.LastProtection.Reason,
                host?.Generations.ToString(),
                sync?.Describe(), sync?.WholeImage ?? false, sync?.TotalBytes ?? 0, sync?.CopiedBytes ?? 0, Math.Round((sync?.BytesPerSecond ?? 0) / 1e6, 1), sync?.Completed ?? false,
                host?.VerifyStatus, Math.Round((host?.SyncBytesPerSecond ?? 0) / 1e6, 1), sync?.Remaining?.TotalSeconds is { } left ? Math.Round(left) : null,
                sync?.FoundEqualBytes ?? 0,
                host?.Quorum.ToString() ?? nameof(PrimaryQuorum.NotRequired), host?.WitnessDescription, host?.HeldAnswers ?? 0,
                _options.Takeover is { IsOpen: true } takeover
                    ? string.Create(CultureInfo.InvariantCulture, $"draining checkpoint {takeover.Epoch}'s committed epochs into the image ({takeover.Count} records, {takeover.Bytes} bytes); reads see them already, {host?.WritesHeldForTakeover ?? 0} writes overlapping them wait")
                    : null);
        }
    }

    /// <summary>
    /// Opens the image, then the host checks the state record, connects and shakes hands. Throws
    /// <see cref="HandshakeRefusedException"/> when the secondary refuses this pair (or fences this
    /// primary), <see cref="IOException"/> when it cannot be reached.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellation)
    {
        IReadOnlyList<string> problems = _options.Validate();
        if (problems.Count > 0)
        {
            throw new InvalidOperationException("primary options are invalid: " + string.Join("; ", problems));
        }

        _image = ImageFile.Open(_options.ImagePath);
        ControlCodec.Prepare();
        _host = new PrimaryHost(
            new PrimaryHostOptions
            {
                PairId = _options.PairId,
                ImageBytes = _image.Size,
                BlockSize = _options.BlockSize,
                MaxRequestBytes = _options.MaxRequestBytes,
                PageTerms = _options.PageTerms,
                Peer = _options.Peer.ToString(),
                ImageName = _options.ImagePath,
                Unreplicated = _options.Unreplicated,
                StartWithoutSecondary = _options.StartWithoutSecondary,
                RunsPromotedNode = _options.RunsPromotedNode,
                AllowFullSync = _options.AllowFullSync,
                SkipInitialSync = _options.SkipInitialSync,
                MaxSyncReadsInFlight = _options.SyncReadsInFlight,
                DirtyRegionBytes = _options.SyncGranularityBytes,
                ActivityLogExtents = _options.ActivityLogExtents,
                SyncBytesPerSecond = _options.SyncRateMBps * 1_000_000L,
                SyncChecksums = _options.SyncChecksums,
                HeartbeatTimeout = _options.HeartbeatTimeout,
                AckTimeout = _options.AckTimeout,
                ReconnectDelay = _options.ReconnectDelay,
                ReconnectMaxDelay = _options.ReconnectMaxDelay,
                NoQuorum = _options.NoQuorum,
                Takeover = _options.Takeover,
                GuestPausesLater = _options.GuestPausesLater,
                Meter = _meter,
                Witness = _options.Witness is { } witness
                    ? new WitnessSessionOptions { Address = witness.ToString(), PairId = _options.PairId, Lease = _options.QuorumLease, Timeout = _options.HeartbeatTimeout }
                    : null,
            },
            new FileStorageDirectory(_options.StateDirectory),
            _actions,
            _log,
            _time);

        var loops = new List<Task> { EventLoopAsync(_host), DirtyLogLoopAsync() };
        _localIo = new LocalIoLanes(_options.LocalIoWorkers);
        for (int i = 0; i < _localIo.Count; i++)
        {
            loops.Add(LocalIoLoopAsync(i));
        }

        _loops = Task.WhenAll(loops);
        // Without a secondary the ticks still keep the witness's lease, when there is one.
        if (!_options.Unreplicated || _options.Witness is not null)
        {
            _heartbeat = _time.CreateTimer(_ => Post(new PrimaryEvent(PrimaryEventKind.HeartbeatDue)), null, _options.HeartbeatInterval, _options.HeartbeatInterval);
        }

        Post(new PrimaryEvent(PrimaryEventKind.Start));

        // Writes that overlap the takeover's drain wait in the host until the drain is durable.
        _ = _options.Takeover?.Closed.ContinueWith(_ => Post(new PrimaryEvent(PrimaryEventKind.TakeoverDrained)), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        PrimaryStart start;
        try
        {
            start = await _started.Task.WaitAsync(cancellation).ConfigureAwait(false);
        }
        catch
        {
            await DisposeAsync().ConfigureAwait(false);
            throw;
        }

        if (start.Outcome != PrimaryStartOutcome.Running)
        {
            await DisposeAsync().ConfigureAwait(false);
            throw start.Outcome == PrimaryStartOutcome.Unreachable
                ? new IOException(start.Reason)
                : new HandshakeRefusedException(start.Reason ?? "the secondary refused this primary", start.Outcome == PrimaryStartOutcome.Fenced);
        }

        if (!_options.Unreplicated)
        {
            _epochTimer = _time.CreateTimer(_ => Post(new PrimaryEvent(PrimaryEventKind.IntervalElapsed)), null, _options.EpochInterval, _options.EpochInterval);
        }
    }

    /// <summary>Reads the primary's own image (what the guest sees): through the takeover's committed epochs while they drain into it.</summary>
    public void Read(long offset, Span<byte> destination)
    {
        if (_options.Takeover is { IsOpen: true } takeover)
        {
            takeover.Read(new ImageReader(_image!), offset, destination);
            return;
        }

        _image!.Read(offset, destination);
    }

    /// <summary>
    /// The holes and data of the primary's own image (NBD block status); a write in flight may show
    /// either way, as the protocol allows. While a takeover drains, all of it reads as data: a hole
    /// in the file may hold a committed record not yet written there.
    /// </summary>
    public int DescribeAllocation(long offset, long length, Span<NbdExtent> extents)
    {
        if (_options.Takeover is { IsOpen: true } && extents.Length > 0)
        {
            extents[0] = new NbdExtent(Math.Min(length, _image!.Size - offset), NbdExtentState.Data);
            return 1;
        }

        return _image!.DescribeAllocation(offset, length, extents);
    }

    /// <summary>Reads a range of the primary's image ahead into the page cache (NBD_CMD_CACHE).</summary>
    public void Prefetch(long offset, long length) => _image!.Prefetch(offset, length);

    /// <summary>
    /// True while the primary's image zeroes ranges without writing them. A zeroing guest request
    /// then costs little anywhere: the mirror record carries no payload, and the secondary's image
    /// zeroes the same way when its file system can.
    /// </summary>
    public bool ZeroesFast => _image?.ZeroesFast ?? false;

    /// <summary>A guest request. Returns its id; <paramref name="completion"/> hears its outcome, on the loop, when the local disk finished it.</summary>
    public long Submit(BlockRequest request, ReadOnlyMemory<byte> payload, IGuestRequestCompletion completion)
    {
        long id = Interlocked.Increment(ref _nextRequestId);
        Post(new PrimaryEvent(PrimaryEventKind.Submit, id, request, payload, completion));
        return id;
    }

    /// <summary>
    /// Completes once the committed epochs a promoted node took over and served from RAM are durably
    /// in the image (at once when there are none left): from then the image file alone holds the
    /// checkpoint taken over.
    /// </summary>
    public Task TakeoverDrained => _options.Takeover?.Closed ?? Task.CompletedTask;

    /// <summary>Takes a checkpoint now; completes with its epoch once the secondary acknowledged it, or fails if replication is degraded.</summary>
    public Task<long> CheckpointAsync()
    {
        var waiter = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_events.Writer.TryWrite(new PrimaryEvent(PrimaryEventKind.CheckpointRequested, Waiter: waiter)))
        {
            waiter.TrySetException(new InvalidOperationException("no checkpoint: the primary is stopped"));
        }

        return waiter.Task;
    }

    /// <summary>Sets the sync's rate limit from now on, in bytes per second (0: none).</summary>
    public void SetSyncRate(long bytesPerSecond)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytesPerSecond);
        if (!_events.Writer.TryWrite(new PrimaryEvent(PrimaryEventKind.SyncRateChanged, bytesPerSecond)))
        {
            throw new InvalidOperationException("the primary is stopped");
        }
    }

    /// <summary>
    /// Compares the primary's image with the secondary's while the guest runs (and, with
    /// <paramref name="repair"/>, copies what differs); fails if replication is or becomes degraded.
    /// </summary>
    public Task<VerifyReport> VerifyAsync(bool repair)
    {
        var waiter = new TaskCompletionSource<VerifyReport>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_events.Writer.TryWrite(new PrimaryEvent(PrimaryEventKind.VerifyRequested, repair ? 1 : 0, VerifyWaiter: waiter)))
        {
            waiter.TrySetException(new InvalidOperationException("no verify: the primary is stopped"));
        }

        return waiter.Task;
    }

    /// <summary>
    /// A planned switchover: a last checkpoint, acknowledged, then the primary role handed to the
    /// secondary (<see cref="PrimaryHost.SwitchOver"/>). Call with the guest quiet (the export
    /// stopped taking requests). The result says whether this node gave up the role.
    /// </summary>
    public Task<SwitchoverResult> SwitchOverAsync()
    {
        var waiter = new TaskCompletionSource<SwitchoverResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_events.Writer.TryWrite(new PrimaryEvent(PrimaryEventKind.SwitchoverRequested, SwitchoverWaiter: waiter)))
        {
            waiter.TrySetResult(new SwitchoverResult(SwitchoverOutcome.NotHandedOver, 0, "the primary is stopped"));
        }

        return waiter.Task;
    }

    /// <summary>
    /// A clean stop: takes a last checkpoint and, once the secondary acknowledged it, records that
    /// both images are equal at it, so the pair may start again from there. Call with the guest
    /// quiet (no requests being submitted).
    /// </summary>
    public async Task StopCleanlyAsync(CancellationToken cancellation)
    {
        var waiter = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_events.Writer.TryWrite(new PrimaryEvent(PrimaryEventKind.StopCleanly, Waiter: waiter)))
        {
            throw new InvalidOperationException("no clean stop: the primary is stopped");
        }

        await waiter.Task.WaitAsync(cancellation).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // The host hears it is stopping before anything else: no new links, no more attempts.
        Post(new PrimaryEvent(PrimaryEventKind.Stop));
        await _stopping.CancelAsync().ConfigureAwait(false);
        _epochTimer?.Dispose();
        _heartbeat?.Dispose();
        _events.Writer.TryComplete();
        _localIo?.Complete();
        _dirtyLog.Writer.TryComplete();
        try
        {
            await _loops.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await CloseLinksAsync().ConfigureAwait(false);
        _host?.Dispose();
        _image?.Dispose();
        _stopping.Dispose();
        _meter.Dispose();
    }

    private void Post(in PrimaryEvent e) => _events.Writer.TryWrite(e);

    /// <summary>The image under a takeover's overlay (a struct: a read through it allocates nothing).</summary>
    private readonly struct ImageReader(ImageFile image) : IImageReader
    {
        public void Read(long offset, Span<byte> destination) => image.Read(offset, destination);
    }
}
