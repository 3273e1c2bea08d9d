using Replicator.Core.Blocks;
using Replicator.Core.Primary;
using Replicator.Hosts.Storage;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Primary;

/// <summary>
/// The dirty log around the engine: opened (and what it restores handed to the engine) at start,
/// guest writes into cold extents held until the log names them, the log's operations run one at a
/// time by the shell, the secondary's lineage recorded once it holds this image's generation, the
/// log closed by a clean stop — and, if the log cannot be written, the state record told not to trust it.
/// </summary>
public sealed partial class PrimaryHost
{
    private DirtyTracker? _tracker;
    private RestoredDirtyLog? _restored;

    // The secondary checkpoint, and its generation, from which the engine's map knows every change
    // while that still holds (from the start's log, or the takeover); null once a whole-image sync
    // or a protected pair moved the map's count elsewhere. Only a former primary of that generation
    // may be synced from the changes and its own writes alone.
    private RestoredDirtyLog? _knowledgeBase;
    private long? _closingWaiter;

    /// <summary>The dirty log's tracker, once started with one (read by status and tests; on the host's loop only).</summary>
    public DirtyTracker? DirtyLog => _tracker;

    /// <summary>What the dirty log restored at start, or null (none kept, or not trusted).</summary>
    public RestoredDirtyLog? RestoredDirtyLog => _restored;

    /// <summary>The shell ran dirty-log operation <paramref name="operationId"/>, or it failed with <paramref name="failure"/>.</summary>
    public void OnDirtyLogWritten(long operationId, string? failure)
    {
        if (_tracker is not { } tracker)
        {
            return;
        }

        IReadOnlyList<DirtyTracker.Held> issuable = tracker.OnOperationDone(operationId, failure);
        if (failure is not null)
        {
            DistrustDirtyLog(failure);
        }

        foreach (DirtyTracker.Held held in issuable)
        {
            _actions.IssueLocal(held.RequestId, held.Request, held.Payload);
        }

        if (_closingWaiter is { } waiter && (tracker.IsClosed || tracker.Failure is not null))
        {
            _closingWaiter = null;
            CompleteCleanStop(waiter, _state!.AppliedEpoch);
        }

        PumpDirtyLog();
    }

    /// <summary>
    /// At start, before the state record is saved: the log opened, its id to be recorded with the
    /// state. A node's first start after it took over begins counting changes at the checkpoint it
    /// took over from — in a new log, or in memory alone without one — and the images are no longer
    /// known equal to anyone's: what a former primary needs is that count, not an epoch number.
    /// </summary>
    private NodeState OpenDirtyLog(NodeState state)
    {
        TakeoverPoint? takeover = state.PromotedFrom;
        if (takeover is not null)
        {
            state = state with { PromotedFrom = null, AppliedEpoch = -1 };

            // The promotion drew this generation a moment ago: no other node can hold it, so the
            // writes from here on need no further one (a later start alone draws one, as any does).
            _unprotectedGeneration = state.Generations.Current;
        }

        if (_options.ActivityLogExtents == 0)
        {
            _restored = takeover is null ? null : new RestoredDirtyLog(takeover.Epoch, (ulong)takeover.Generation, [], AfterCrash: false);
            _knowledgeBase = _restored;
            return state with { DirtyLogId = 0 };
        }

        var geometry = new DirtyLogGeometry(_options.ImageBytes, _options.DirtyRegionBytes, _options.ActivityExtentBytes);
        DirtyLogStart start = DirtyTracker.Open(_stateDirectory, geometry, _options.ActivityLogExtents, state.DirtyLogId, _options.Plant, takeover);
        _tracker = start.Tracker;

        _restored = start.Restored;
        _knowledgeBase = _restored;
        if (_restored is { } r)
        {
            Log.DirtyLogRestored(_log, r.Regions.Count, (long)r.Regions.Count * _options.DirtyRegionBytes, r.AcknowledgedEpoch, r.AfterCrash);
        }
        else
        {
            Log.DirtyLogNew(_log, start.NotRestoredBecause ?? "none");
        }

        return state with { DirtyLogId = _tracker.LogId };
    }

    /// <summary>The engine the host runs from now on (the dirty log reads its map).</summary>
    private void UseEngine(PrimaryEngine engine)
    {
        engine.GuestPausesLater = _options.GuestPausesLater;
        _tracker?.Attach(engine);
        if (_syncRate is not null)
        {
            engine.SetResyncBudget(0);
        }

        Volatile.Write(ref _engine, engine);
    }

    /// <summary>
    /// A request for the primary's disk: at once, unless it overlaps what a takeover still drains,
    /// or writes into an extent the log does not name yet.
    /// </summary>
    private void IssueLocal(long requestId, in BlockRequest request, ReadOnlyMemory<byte> payload)
    {
        if (HeldByTakeover(requestId, request, payload))
        {
            return;
        }

        if (_tracker is null || _tracker.TryIssue(requestId, request, payload))
        {
            _actions.IssueLocal(requestId, request, payload);
            return;
        }

        PumpDirtyLog();
    }

    private void PumpDirtyLog()
    {
        if (_tracker?.NextOperation() is { } operation)
        {
            _actions.RunDirtyLog(operation);
        }
    }

    /// <summary>The secondary holds this image's current generation now: the log may speak of it.</summary>
    private void RecordSecondaryLineage()
    {
        _knowledgeBase = null;
        _tracker?.RecordLineage((ulong)_state!.Generations.Current!.Id);
        PumpDirtyLog();
    }

    /// <summary>A clean stop's last checkpoint is recorded: the log is closed before the waiter hears of it.</summary>
    private bool CloseDirtyLog(long waiterId)
    {
        if (_tracker is not { Failure: null } tracker)
        {
            return false;
        }

        _closingWaiter = waiterId;
        tracker.Close();
        PumpDirtyLog();
        return true;
    }

    /// <summary>
    /// The log could not be written: from now on it cannot say what a crash would leave, so the state
    /// record stops naming it (a later start copies the whole image instead) before any held write
    /// goes to the disk. If even that cannot be recorded, no guest request is acknowledged any more.
    /// </summary>
    private void DistrustDirtyLog(string failure)
    {
        Log.DirtyLogFailed(_log, failure);
        try
        {
            _state = _state! with { DirtyLogId = 0 };
            _states.Save(_state);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            FailGuestWrites($"the dirty log failed ({failure}) and {_states.Path} could not record that it is no longer to be trusted ({e.Message}): every request fails until the primary is restarted");
        }
    }

    /// <summary>Engine options for a start where the images are not known equal but a trusted dirty log says what may differ.</summary>
    private PrimaryOptions WithRestoredLog(PrimaryOptions options) =>
        _restored is { } restored
            ? options with
            {
                FirstEpoch = restored.AcknowledgedEpoch + 1,
                FirstSequence = 1,
                KnowsChangesSinceFirstEpoch = true,
                RestoredDirtyRegions = restored.Regions,
            }
            : options;

    /// <summary>
    /// The scope of the first sync after a restart from the dirty log: its regions only when the
    /// secondary is the one the log speaks of (the generation it recorded); any other gets the whole image.
    /// </summary>
    private ResyncScope ScopeFromDirtyLog(PrimaryEngine engine, WelcomeMessage welcome, ResyncScope scope)
    {
        if (scope != ResyncScope.DirtyRegions || !engine.AdoptsSecondaryNumbering || _restored is not { } restored)
        {
            return scope;
        }

        if (restored.AcknowledgedGeneration != 0 && welcome.Generations.Current is { } current && (ulong)current.Id == restored.AcknowledgedGeneration)
        {
            return scope;
        }

        Log.WholeImageInstead(_log, "the dirty log speaks of a secondary in another data generation: which regions this one lacks is not known");
        return ResyncScope.WholeImage;
    }
}
