using Microsoft.Extensions.Logging;
using Replicator.Core.Blocks;
using Replicator.Core.Diagnostics;
using Replicator.Core.Secondary;
using Replicator.Core.Storage;
using Replicator.Hosts.Diagnostics;
using Replicator.Hosts.Links;
using Replicator.Hosts.Storage;
using Replicator.Hosts.Testing;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Secondary;

/// <summary>
/// The secondary's host: every decision the secondary daemon makes around its engine — recovery from
/// the journal and the state record, the handshake and its identity checks, fencing, the welcome
/// that waits for the journal, heartbeats and auto-failover, the credit owed to the current primary,
/// the order journal → acknowledgement → apply, promotion. Sans-I/O: the shell (the daemon, or the
/// simulator) feeds it events from one loop, runs the storage operations it asks for with
/// <see cref="Storage"/>, and moves its frames; it reads time only through the shell's
/// <see cref="TimeProvider"/>.
/// </summary>
public sealed partial class SecondaryHost
{
    private readonly SecondaryHostOptions _options;
    private readonly ISecondaryHostActions _actions;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly LogRateLimit _refusalReports;
    private readonly ISecondaryActions _engineActions;
    private SecondaryStore? _store;
    private SecondaryEngine? _engine;
    private FormerPrimaryWrites? _formerPrimaryWrites;

    public SecondaryHost(SecondaryHostOptions options, ISecondaryHostActions actions, ILogger log, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _actions = actions;
        _log = log;
        _time = time;
        _refusalReports = new LogRateLimit(time, options.RefusalReportInterval);
        _engineActions = PlantedAckBeforeJournalDurable.Wrap(new EngineActions(this), options.Plant);
        Metrics = options.Meter is { } meter ? new SecondaryMetrics(meter, this) : null;
    }

    /// <summary>The host's instruments, when the shell gave it a meter; the shell counts its own refusals here too.</summary>
    public SecondaryMetrics? Metrics { get; }

    /// <summary>The credit window this host grants (its options'), for the buffer gauge.</summary>
    internal long BufferCapacityBytes => _options.BufferCapacityBytes;

    /// <summary>The engine; null before <see cref="Start"/>.</summary>
    public SecondaryEngine? Engine => _engine;

    /// <summary>
    /// The committed epochs a promoted node serves through while they drain into its image (open
    /// until then; the new primary's reads and writes go through it); null before the promotion's
    /// checkpoint is settled.
    /// </summary>
    public CommittedOverlay? Takeover => _engine?.Takeover;

    /// <summary>Whether a promotion's drain is over: the image alone holds the checkpoint taken over at.</summary>
    public bool TakeoverDrained => _engine?.Phase == SecondaryPhase.Promoted;

    /// <summary>The storage this host recovered from; null before <see cref="Start"/>.</summary>
    public SecondaryStore? Store => _store;

    /// <summary>What the shell runs each storage operation with.</summary>
    public SecondaryStorageWorker Storage { get; private set; } = null!;

    /// <summary>The checkpoint the node holds once promoted; -1 before.</summary>
    public long PromotedEpoch { get; private set; } = -1;

    public bool IsPromoted => _engine?.Phase is SecondaryPhase.Promoting or SecondaryPhase.Promoted;

    /// <summary>What started this node's promotion; null before one began.</summary>
    public PromotionTrigger? PromotedBy { get; private set; }

    /// <summary>
    /// Whether the committed image holds the pair's data: the node holds a data generation, or the
    /// epoch that completes its sync is committed (applying it records the primary's generations).
    /// A node that never held the pair's data — a blank secondary not yet synced — is never promoted.
    /// </summary>
    public bool HoldsPairData =>
        !_store!.State.Generations.IsBlank
        || _takenGenerations is not null
        || (_syncTarget is not null && _engine!.LastCommittedEpoch >= _syncFirstEpoch && !_engine.CommittedMidResync);

    public SecondaryStatus Status => new(
        _engine?.Phase.ToString() ?? "starting",
        _engine?.LastCommittedEpoch ?? 0,
        _engine?.LastAppliedEpoch ?? 0,
        _engine?.BufferedBytes ?? 0,
        _options.BufferCapacityBytes,
        _linkDescription,
        _engine is not { IsResyncing: true } engine ? null
            : engine.CommittedMidResync ? "in progress: the image is mid-resync and holds no checkpoint until it completes"
            : "started: nothing of it is committed yet",
        _store?.State.Generations.ToString(),
        WitnessDescription,
        AutoFailoverRefused,
        (_engine?.WritebackBacklogBytes ?? 0) + (_engine?.WritebackBacklogPageBytes ?? 0),
        _engine is { WithheldAcknowledgement: > 0 } held
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"epoch {held.WithheldAcknowledgement} waits for the write-back: committed checkpoints hold {held.WritebackBacklogPageBytes / 1024} KiB of RAM pages, beyond the bound of {_options.WritebackCapacityBytes / 1024} KiB (--writeback-mb)")
            : null);

    /// <summary>
    /// Recovery: opens the image and the state directory, checks they are this pair's, and builds the
    /// engine from the state record, replaying the committed epochs the journal holds beyond it. The
    /// host owns <paramref name="image"/> from here. Throws (naming the file) when storage cannot be
    /// read or is another pair's: the node must not start on it.
    /// </summary>
    public void Start(IBlockDevice image, IStorageDirectory stateDirectory)
    {
        _store = SecondaryStore.Open(image, stateDirectory, _options.PairId, _options.RamBytes, _options.PageSize, _options.Plant, _options.JournalSwitchAboveBytes, _options.FailoverDiscardingUnverifiable, _options.JournalStagingBytes);
        Storage = new SecondaryStorageWorker(_store, _time);
        var geometry = new BlockGeometry(_store.Image.Size, _options.MaxRequestBytes);
        var engineOptions = new SecondaryOptions
        {
            Geometry = geometry,
            BufferCapacityBytes = _options.BufferCapacityBytes,
            WritebackCapacityBytes = _options.WritebackCapacityBytes,

            // One bound for both kinds of committed data waiting in RAM (--writeback-mb): beyond it
            // the records' credit and the checkpoints' acknowledgements wait for the write-back.
            WritebackPageCapacityBytes = _options.WritebackCapacityBytes,
            VmPageCount = _options.RamBytes / _options.PageSize,
            VmPageSize = _options.PageSize,
            Plant = _options.Plant,
        };
        try
        {
            _engine = _store.CreateEngine(engineOptions, _engineActions);
        }
        catch
        {
            _store.Dispose();
            _store = null;
            throw;
        }

        _syncTarget = _store.State.SyncTarget;
        StartWitness();
        _syncFirstEpoch = _store.State.SyncFirstEpoch;
        Log.Started(_log, _store.Image.Name, _store.AppliedEpoch, _store.Unapplied.Count, _store.State.Generations.ToString());
        if (_store.Journal.EntriesSteppedOver > 0)
        {
            Log.JournalEntriesSteppedOver(_log, _store.Journal.Name, _store.Journal.EntriesSteppedOver);
        }

        if (_store.State.FormerPrimary)
        {
            ReadFormerPrimaryWrites(stateDirectory);
        }

        if (_store.State.Role == NodeRole.Primary)
        {
            // A node that took over stays taken over across restarts: it comes back promoted, from
            // the checkpoint its image holds, in the data generation its promotion began, and the
            // shell serves its image again.
            Promote("this node was promoted before it stopped", PromotionTrigger.Restart);
        }
        else if (_options.FailoverDiscardingUnverifiable && !IsPromoted)
        {
            ForceFailover(_store.Journal.Damage);
        }
    }

    /// <summary>
    /// A former primary: what its own dirty log says its image may hold beyond what its new primary
    /// has, sent in every welcome until a sync completes. A log that cannot be read stops the start,
    /// naming the file (the state directory already says the node is a secondary; nothing else changed).
    /// </summary>
    private void ReadFormerPrimaryWrites(IStorageDirectory stateDirectory)
    {
        int maxRanges = Math.Clamp(LinkLimits.MaxBodyLength(_options.MaxRequestBytes, _options.RamBytes, _options.PageSize) / 2 / 20, 16, FormerPrimaryWrites.MaxRanges);
        try
        {
            _formerPrimaryWrites = FormerPrimaryLog.Read(stateDirectory, _store!.State.DirtyLogId, _store.Image.Size, maxRanges);
        }
        catch
        {
            _store!.Dispose();
            _store = null;
            _engine = null;
            throw;
        }

        FormerPrimaryWrites writes = _formerPrimaryWrites;
        Log.DemotedFormerPrimary(_log, _store.State.Generations.ToString(), writes.Known
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"its dirty log names {writes.RangeCount} ranges ({writes.Bytes} bytes) its new primary will copy back over its own writes")
            : $"which regions it wrote is not known ({writes.UnknownBecause}): the new primary will copy the whole image");
    }

    /// <summary>The operator's forced failover: say exactly what is discarded, then promote as any failover does.</summary>
    private void ForceFailover(JournalDamage? damage)
    {
        if (damage is null)
        {
            Log.ForcedFailoverNothingDiscarded(_log, _store!.Journal.Name);
        }
        else
        {
            Log.ForcedFailoverDiscarding(_log, damage.ToString(), damage.LastVerifiableEpoch, damage.Journal);
        }

        if (Promote("forced by the operator (--failover-discarding-unverifiable-epochs)", PromotionTrigger.Forced) is { } refused)
        {
            _actions.Halt($"forced failover refused: {refused}");
        }
    }

    /// <summary>
    /// Failover now (an operator's command, or auto-failover): the old primary is cut off first (I6),
    /// incomplete epochs go, committed ones drain. Returns why not when this node must not take over
    /// (its image is mid-resync); null when promotion started or had already.
    /// </summary>
    public string? Promote(string reason) => _witness is null || IsPromoted ? Promote(reason, PromotionTrigger.Operator) : PromoteByVote(reason);

    /// <summary>
    /// Why this node must not take over, whoever asks: it never held the pair's data, or its image
    /// holds no checkpoint (mid-resync); null when it may.
    /// </summary>
    private string? CannotTakeOver => !HoldsPairData
        ? "this node never held the pair's data: its image was never synced from a primary, so it holds no checkpoint to resume from"
        : _engine!.PromotionRefusal;

    /// <summary>As <see cref="Promote(string)"/>, for <paramref name="trigger"/>; into <paramref name="into"/> when a witness voted for that generation.</summary>
    private string? Promote(string reason, PromotionTrigger trigger, Protocol.Generations.GenerationMark? into = null)
    {
        SecondaryEngine engine = _engine!;
        if (IsPromoted)
        {
            return null;
        }

        if (CannotTakeOver is { } refused)
        {
            Log.NotPromoting(_log, reason, refused);
            return refused;
        }

        // Said, and the generation set, before the engine is asked: with nothing to drain it completes the promotion at once.
        Log.Promoting(_log, reason, engine.LastCommittedEpoch);
        _promotionGeneration = into;
        PromotedBy = trigger;
        Metrics?.Promoted(trigger);
        engine.Promote();
        foreach ((LinkId link, LinkState state) in _links.ToList())
        {
            // I6: the old primary must know this node will never follow it again. A connection
            // that has not said who it is learns nothing but that it is closed.
            CloseLink(link, "the secondary is being promoted", fenced: state.HelloAccepted);
        }

        return null;
    }
}
