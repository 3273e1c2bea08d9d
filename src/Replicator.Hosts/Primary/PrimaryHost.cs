using Microsoft.Extensions.Logging;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Primary;
using Replicator.Core.Storage;
using Replicator.Core.Vm;
using Replicator.Hosts.Storage;
using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;
using Replicator.Protocol.Pages;

namespace Replicator.Hosts.Primary;

/// <summary>
/// The primary's host: everything the primary decides around its <see cref="PrimaryEngine"/> — the
/// start-up checks against the state record, the handshake and its identity checks, heartbeats,
/// losing the link and reconnecting with backoff, fencing, checkpoint waiters and timings, the clean
/// stop, and running with replication off. Sans-I/O: events come in through its methods, from one
/// loop; what it wants done goes out through <see cref="IPrimaryHostActions"/>. No sockets, files,
/// threads or timers; time is read only as timestamps of the injected <see cref="TimeProvider"/>.
/// </summary>
/// <remarks>
/// The state record is read and written here, synchronously, through <see cref="NodeStateStore"/>
/// on the storage seam (<see cref="IStorageDirectory"/>), not asked of the shell: it is written
/// only at start, at the first accepted welcome and at a clean stop — never on the write path — and
/// each write must be durable before the host goes on (the record says "images not known equal"
/// before the first mirrored write, and "equal at e" only after e's acknowledgement). Keeping the
/// call here keeps that order in the host, where the simulator's power cuts can reach it.
/// </remarks>
public sealed partial class PrimaryHost : IDisposable
{
    public const string UnreplicatedReason = "replication is off (started without a secondary): the guest's writes are not protected";

    private readonly PrimaryHostOptions _options;
    private readonly IPrimaryHostActions _actions;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly NodeStateStore _states;
    private readonly IStorageDirectory _stateDirectory;
    private readonly EngineActions _engineActions;
    private readonly PairIdentity _identity;
    private readonly PrimaryMetrics? _metrics;
    private PrimaryEngine? _engine;
    private NodeState? _state;
    private NodeState _stateAtStart = null!;
    private bool _started;

    // The generation this process began for writes no secondary follows, until a secondary holds
    // it: one is drawn per stretch of unprotected writing, not per lost link, so a link that flaps
    // does not push the secondary's generation out of the history.
    private GenerationMark? _unprotectedGeneration;

    // Set when the state record could not say that writes go on unprotected: every guest request
    // fails from then on (fail closed), rather than be acknowledged with nothing on disk saying so.
    private string? _guestWritesFailed;

    public PrimaryHost(PrimaryHostOptions options, IStorageDirectory stateDirectory, IPrimaryHostActions actions, ILogger log, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(stateDirectory);
        ArgumentNullException.ThrowIfNull(actions);
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(time);
        _options = options;
        _actions = actions;
        _log = log;
        _time = time;
        _states = new NodeStateStore(stateDirectory);
        _stateDirectory = stateDirectory;
        _engineActions = new EngineActions(this);
        _identity = new PairIdentity { PairId = options.PairId, ImageBytes = options.ImageBytes, BlockSize = options.BlockSize, MaxRequestBytes = options.MaxRequestBytes };
        _metrics = options.Meter is { } meter ? new PrimaryMetrics(meter, this) : null;
    }

    /// <summary>The engine, once started (read by the status from any thread: a racy but harmless view).</summary>
    public PrimaryEngine? Engine => Volatile.Read(ref _engine);

    /// <summary>The data generations this node's image holds, as last recorded (any thread).</summary>
    public DataGenerations Generations => Volatile.Read(ref _state)?.Generations ?? DataGenerations.None;

    /// <summary>
    /// Loads (or creates) the state record and checks it is this pair's, then connects — or, with
    /// replication off, runs alone at once. The outcome comes as <see cref="IPrimaryHostActions.Started"/>.
    /// Throws <see cref="InvalidDataException"/> when the state directory belongs to another pair or its record is damaged.
    /// </summary>
    public void Start()
    {
        if (_started)
        {
            throw new InvalidOperationException("the primary's host starts once");
        }

        _started = true;
        if (_options.SyncBytesPerSecond > 0)
        {
            _syncRate = new SyncRateLimit(_options.SyncBytesPerSecond, _time);
        }

        NodeState state = _states.Load() ?? new NodeState { PairId = _options.PairId, Role = NodeRole.Primary };
        if (!string.Equals(state.PairId, _options.PairId, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"state directory {_states.Path} belongs to pair '{state.PairId}', not '{_options.PairId}'");
        }

        if (state.Role != NodeRole.Primary)
        {
            throw new InvalidDataException($"state directory {_states.Path} is a secondary's ({state.Generations}{(state.FormerPrimary || state.MidResync ? ", its image mid-sync and no checkpoint" : string.Empty)}): a secondary takes over only by a failover while it runs as `replicator secondary` (its journal may hold committed checkpoints its image lacks), never by being started as a primary");
        }

        if (state.Generations.IsBlank)
        {
            // A new primary: its image is where the pair's data begins.
            state = state with { Generations = state.Generations.Begin(GenerationMark.Draw(GenerationCause.Created, _time.GetUtcNow())) };
        }

        // Started by `replicator primary`, the node is the operator's primary from now on: started
        // as a secondary later, it is demoted rather than resuming a promotion.
        state = state with { PrimaryByPromotion = state.PrimaryByPromotion && _options.RunsPromotedNode };
        state = OpenDirtyLog(state);
        _states.Save(state);
        _state = _stateAtStart = state;
        Log.Generation(_log, state.Generations.ToString());
        StartWitness();
        if (_options.Unreplicated)
        {
            StartUnreplicated();
            return;
        }

        if (_options.RunsPromotedNode)
        {
            // The node took over: the guest is served at once, never after a connect that may hang
            // on a partition; the peer is tried in the background and synced once it follows.
            StartAlone("this node took over; its peer is connected to in the background");
            return;
        }

        BeginConnect();
    }

    /// <summary>Releases the dirty log's file; the shell calls it once its loop has stopped.</summary>
    public void Dispose()
    {
        _tracker?.Dispose();
    }

    /// <summary>A guest request, under an id the shell chose (zero or more, unique while in flight).</summary>
    public void Submit(long requestId, in BlockRequest request, ReadOnlyMemory<byte> payload)
    {
        // From the switchover on, nothing is acknowledged that the handover could leave behind.
        if (_engine is not { } engine || _guestWritesFailed is not null || HandedOver || _switchoverWaiter is not null)
        {
            _actions.CompleteGuest(requestId, RequestStatus.IoError);
            return;
        }

        if (engine.Submit(requestId, request, payload) is { } refused)
        {
            Log.RequestRefused(_log, request.Op.ToString(), request.Offset, request.Length, refused);
        }
    }

    /// <summary>
    /// The guest's output (a network packet, say) under an id the shell chose: held until the
    /// checkpoint that covers it is acknowledged (I5), then <see cref="IPrimaryHostActions.ReleaseOutput"/>.
    /// Before the engine runs there is nothing to hold it for: it is released unprotected at once.
    /// </summary>
    public void SubmitOutput(long outputId)
    {
        if (_engine is not { } engine)
        {
            _actions.ReleaseOutput(outputId, protectedByReplica: false);
            return;
        }

        if (_options.Witness is not null && (_heldOutputs.Count > 0 || !HasQuorum(_time.GetTimestamp())))
        {
            // Without a majority the engine (degraded, it would release at once) hears of it only once the majority is back.
            HoldOutput(outputId);
            return;
        }

        engine.SubmitOutput(outputId);
    }

    /// <summary>The primary's own disk finished a request; <paramref name="failure"/> says why it failed, if it did.</summary>
    public void OnLocalCompleted(long requestId, in BlockRequest request, string? failure)
    {
        if (failure is not null)
        {
            // Any failure of the local disk fails this request only; the drain must not hang on it.
            Log.LocalIoFailed(_log, request.Op.ToString(), request.Offset, request.Length, failure);
        }

        _engine?.OnLocalCompleted(requestId, failure is null);
    }

    /// <summary>A resync read finished; <paramref name="data"/> is lent for this call only.</summary>
    public void OnResyncReadCompleted(long readId, long offset, ReadOnlyMemory<byte> data, string? failure)
    {
        if (failure is not null)
        {
            Log.ResyncReadFailed(_log, offset, data.Length, failure);
        }

        _engine?.OnResyncReadCompleted(readId, failure is null, data);
    }

    /// <summary>The guest asked to pause (with <see cref="PrimaryHostOptions.GuestPausesLater"/>) has stopped.</summary>
    public void OnGuestPaused()
    {
        if (_engine is { } engine)
        {
            engine.OnGuestPaused();
        }
        else
        {
            // No engine waits for this pause any more: the guest must not stay paused.
            _actions.ResumeGuest();
        }
    }

    public void OnVmCaptured(VmSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        _engine?.OnVmCaptured(snapshot.Epoch, snapshot);

        // The checkpoint was serialised onto the link (or dropped) on the way: nothing reads the
        // snapshot any more, and the shell may hand its pages to the next capture.
        _actions.ReleaseSnapshot(snapshot);
    }

    /// <summary>
    /// With replication off: the same engine and local path, no secondary. The engine starts
    /// degraded, so it admits every request at once, mirrors nothing and takes no checkpoints —
    /// exactly the local half of a replicated primary, the honest baseline for what replication costs.
    /// </summary>
    private void StartUnreplicated()
    {
        // The image now moves on alone: a new generation, and whatever secondary it had is no longer known to be equal.
        BeginUnprotectedGeneration();
        UseEngine(new PrimaryEngine(DegradedEngineOptions(UnreplicatedReason), _engineActions));
        Log.RunningUnreplicated(_log, _options.ImageName);
        _actions.ReplicationChanged(PrimaryReplication.Degraded, UnreplicatedReason);

        // Said at once: with no secondary there may be no heartbeat tick to say it later.
        ReportProtectionChange();
        _actions.Started(PrimaryStart.Running);
    }

    /// <summary>
    /// The secondary cannot be reached at start and the operator allowed running without it: the
    /// engine runs unprotected in a new generation, its map tracking every region written, and
    /// attempts to reach the secondary go on with backoff; the one that joins is synced.
    /// </summary>
    private void StartAlone(string reason)
    {
        string degraded = $"started without the secondary: {reason}";
        BeginUnprotectedGeneration();
        UseEngine(new PrimaryEngine(DegradedEngineOptions(degraded), _engineActions));
        Log.StartedAlone(_log, reason, _state!.Generations.ToString());
        _actions.ReplicationChanged(PrimaryReplication.Degraded, degraded);
        _reconnecting = true;
        ScheduleAttempt();
        _actions.Started(PrimaryStart.Running);
    }

    /// <summary>
    /// An engine that begins degraded, numbering on from where the state record last knew both images
    /// equal — its map then knows every change a secondary still holding that checkpoint lacks — or,
    /// when they are not known equal, from the dirty log's checkpoint with the regions it names, or
    /// from 1 knowing nothing (only a whole-image sync can help).
    /// </summary>
    private PrimaryOptions DegradedEngineOptions(string reason)
    {
        bool knownEqual = _stateAtStart.AppliedEpoch >= 0;
        PrimaryOptions options = new PrimaryOptions
        {
            Geometry = new BlockGeometry(_options.ImageBytes, _options.MaxRequestBytes),
            // Charged only once a resync brings the secondary's own figure; until then it only has to pass validation.
            SecondaryBufferBytes = 2L * (_options.MaxRequestBytes + MirrorRecord.RecordOverheadBytes),
            FirstEpoch = knownEqual ? _stateAtStart.AppliedEpoch + 1 : 1,
            FirstSequence = knownEqual ? _stateAtStart.AppliedLastSequence + 1 : 1,
            KnowsChangesSinceFirstEpoch = knownEqual,
            MaxUnacknowledgedCheckpoints = _options.MaxUnacknowledgedCheckpoints,
            Plant = _options.Plant,
            DirtyRegionBytes = _options.DirtyRegionBytes,
            MaxResyncReadsInFlight = _options.MaxSyncReadsInFlight,
            ChecksumWholeImageSync = _options.SyncChecksums,
            StartsDegradedBecause = reason,
        };
        return knownEqual ? options : WithRestoredLog(options);
    }

    /// <summary>
    /// Guest writes are about to be acknowledged with no secondary following: unless this process
    /// already began a generation no secondary holds, a new one is drawn, and recorded durably —
    /// with "images not known equal" — before any such write is acknowledged.
    /// </summary>
    private void BeginUnprotectedGeneration()
    {
        if (_unprotectedGeneration is not null)
        {
            return;
        }

        _unprotectedGeneration = GenerationMark.Draw(GenerationCause.UnprotectedWriting, _time.GetUtcNow());
        _state = _state! with { Generations = _state.Generations.Begin(_unprotectedGeneration), AppliedEpoch = -1 };
        _states.Save(_state);
        Log.Generation(_log, _state.Generations.ToString());
        AskLease();
    }

    /// <summary>From here on every guest request fails: the primary cannot record what acknowledging it would mean.</summary>
    private void FailGuestWrites(string reason)
    {
        _guestWritesFailed ??= reason;
        Log.GuestWritesFailed(_log, reason);
        FailHeld();
    }

    /// <summary>Until a clean stop says otherwise, the images are not known to be equal.</summary>
    private void RecordImagesNotKnownEqual()
    {
        _state = _state! with { AppliedEpoch = -1 };
        _states.Save(_state);
    }

    /// <summary>The engine's actions: disk work and guest calls passed on, frames to the current link, the rest decided here.</summary>
    private sealed class EngineActions(PrimaryHost host) : IPrimaryActions
    {
        public void IssueLocal(long requestId, BlockRequest request, ReadOnlyMemory<byte> payload) => host.IssueLocal(requestId, request, payload);

        public void SendMirror(in MirrorRecord record)
        {
            if (!host._link.IsNone)
            {
                host._actions.SendMirror(host._link, record);
            }
        }

        public void CompleteGuest(long requestId, RequestStatus status) => host.AnswerGuest(requestId, status);

        public void PauseGuest()
        {
            host.NoteCheckpointStarted();
            host._actions.PauseGuest();
        }

        public void CaptureVmState(long epoch)
        {
            host.NoteDrained(epoch);
            host.CaptureWhenAnswered(epoch, whole: false);
        }

        public void CaptureWholeVmState(long epoch) => host.CaptureWhenAnswered(epoch, whole: true);

        public void ResumeGuest()
        {
            host._actions.ResumeGuest();
            host.NoteResumed();
        }

        public void SendCheckpoint(CheckpointRecord checkpoint)
        {
            long pageBytes = checkpoint.Snapshot.ByteCount - checkpoint.Snapshot.CpuState.Length;
            long wireBytes = pageBytes;
            if (!host._link.IsNone)
            {
                // The encoder's cache follows only what the secondary receives: it encodes nothing unsent.
                CheckpointPageEncoder? encoder = host._pageEncoder;
                (long before, long differences) = (encoder?.BytesOut ?? 0, encoder?.PagesAsDifference ?? 0);
                host._actions.Send(host._link, Protocol.Framing.FrameType.Checkpoint, CheckpointMessage.From(checkpoint, encoder));
                wireBytes = encoder is null ? pageBytes : encoder.BytesOut - before;
                host.PageTraffic.Add(pageBytes, wireBytes, encoder is null ? 0 : encoder.PagesAsDifference - differences);
            }

            host.NoteHandedToLink(checkpoint.Epoch, pageBytes, wireBytes);
        }

        public void CheckpointCommitted(long epoch) => host.OnCheckpointCommitted(epoch);

        public void ReleaseOutput(long outputId, bool protectedByReplica) => host.ReleaseGuestOutput(outputId, protectedByReplica);

        public void SendResyncStart(ResyncPlan plan)
        {
            host.NoteSyncStarted(plan);
            if (plan.WholeImage)
            {
                host._tracker?.ForgetLineage();
                host._knowledgeBase = null;
            }

            Log.ResyncStarted(host._log, plan.WholeImage ? "full sync" : "resync", plan.BaseEpoch, plan.Regions, plan.Bytes, plan.FirstEpoch);
            if (!host._link.IsNone)
            {
                host._actions.Send(host._link, Protocol.Framing.FrameType.ResyncStart, ResyncStartMessage.From(plan, host._state!.Generations));
            }
        }

        public void ReadForResync(long readId, long offset, int length) => host._actions.ReadForResync(readId, offset, length);

        public void PairProtected(long epoch)
        {
            host.NoteSyncCompleted(epoch);
            host.RecordSecondaryLineage();
            Log.ProtectedAgain(host._log, epoch);
            host.OnProtectedAgain();
            host._actions.ReplicationChanged(PrimaryReplication.Protected, null);
        }

        public void SecondaryDegraded(string reason) => host.OnDegraded(reason);
    }
}
