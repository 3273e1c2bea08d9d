using System.Globalization;
using Replicator.Core.Epochs;
using Replicator.Core.Primary;
using Replicator.Hosts.Links;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;
using Replicator.Protocol.Pages;

namespace Replicator.Hosts.Primary;

/// <summary>
/// The link: connecting, the hello and the secondary's welcome or refusal, the frames of the stream,
/// heartbeats. At most one link is being opened (<see cref="_connecting"/>, then
/// <see cref="_handshaking"/>) and at most one carries the stream (<see cref="_link"/>); frames and
/// closes of any other link belong to a stream that ended and are dropped.
/// </summary>
public sealed partial class PrimaryHost
{
    private LinkId _link;

    // The current link's page encoder (null: pages go whole): made fresh with each welcome, so its
    // cache starts empty exactly when the secondary's does.
    private CheckpointPageEncoder? _pageEncoder;
    private LinkId _handshaking;
    private long _handshakeStarted;
    private long _lastReceived;
    private bool _connecting;

    /// <summary>The link that carries the stream, or <see cref="LinkId.None"/>.</summary>
    public LinkId CurrentLink => _link;

    /// <summary>The shell connected as asked by <see cref="IPrimaryHostActions.Connect"/>: say hello on it.</summary>
    public void OnLinkConnected(LinkId link)
    {
        if (!_connecting || _stopping)
        {
            _actions.Close(link, null);
            return;
        }

        _connecting = false;
        _handshaking = link;
        _handshakeStarted = _time.GetTimestamp();
        _actions.Send(link, FrameType.Hello, new HelloMessage
        {
            ProtocolVersion = _options.ProtocolVersion,
            Identity = _identity,
            Generations = _state!.Generations,
            VouchesBlankSecondaryEqual = _options.SkipInitialSync && _engine is null && _stateAtStart.AppliedEpoch == 0,
            PageEncoding = _options.PageTerms.Encoding,
            PageCacheBytes = _options.PageTerms.CacheBytes,
        });
    }

    /// <summary>The connection asked for could not be opened.</summary>
    public void OnConnectFailed(string reason)
    {
        if (!_connecting)
        {
            return;
        }

        _connecting = false;
        HandshakeFailed(PrimaryStartOutcome.Unreachable, $"cannot reach the secondary at {_options.Peer}: {reason}");
    }

    /// <summary>A link's receive loop ended: the peer closed it, it failed, or it was closed as asked.</summary>
    public void OnLinkClosed(LinkId link, string reason)
    {
        if (OnWitnessLinkClosed(link, reason))
        {
            return;
        }

        if (link == _handshaking)
        {
            _handshaking = LinkId.None;
            HandshakeFailed(PrimaryStartOutcome.Unreachable, $"the secondary at {_options.Peer} refused this primary: it closed the link during the handshake ({reason})");
            return;
        }

        OnLinkLost(link, reason);
    }

    /// <summary>A frame of a link, decoded by <see cref="PrimaryFrameDecoder"/>.</summary>
    public void OnFrame(LinkId link, in PrimaryInput input)
    {
        if (_witness?.Owns(link) == true)
        {
            OnWitnessFrame(link, input);
            return;
        }

        if (link == _handshaking)
        {
            OnHandshakeAnswer(link, input);
            return;
        }

        if (link != _link || link.IsNone)
        {
            return; // a link already retired: its stream ended
        }

        _lastReceived = _time.GetTimestamp();
        PrimaryEngine engine = _engine!;
        switch (input.Kind)
        {
            case PrimaryInputKind.Ack:
                NoteAckTimings(input.Value, input.Timings);
                engine.OnCheckpointAcknowledged(input.Value);
                break;
            case PrimaryInputKind.Credit:
                engine.OnCreditReturned(input.Value);
                break;
            case PrimaryInputKind.Reject:
                engine.OnEpochRejected(input.Value, input.Reason ?? string.Empty);
                break;
            case PrimaryInputKind.VerifyResult:
                OnVerifyResult(input.Verify!);
                break;
            case PrimaryInputKind.Heartbeat:
                OnProbeEchoed(input.Value, input.PromiseMilliseconds);
                break;
            case PrimaryInputKind.PeerError:
                if (EndHandover(input.Reason ?? string.Empty, input.Fenced, answered: true))
                {
                    OnLinkLost(link, $"the secondary answered the handover: {input.Reason}");
                    break;
                }

                if (input.Fenced)
                {
                    FenceOff($"the secondary at {_options.Peer} will not follow this primary again: {input.Reason}");
                }

                CloseForViolation(link, $"the secondary closed the link: {input.Reason}");
                break;
            case PrimaryInputKind.Malformed:
                CloseForViolation(link, input.Reason ?? "a damaged frame");
                break;
            default:
                CloseForViolation(link, string.Create(CultureInfo.InvariantCulture, $"frame {input.LinkSequence}: a secondary does not send {input.Type}"));
                break;
        }
    }

    /// <summary>
    /// The shell's heartbeat timer fired: a hello unanswered too long fails, a silent secondary is
    /// declared lost, and a live link gets its heartbeat.
    /// </summary>
    public void OnHeartbeatTick()
    {
        SampleSync();
        ReportProtectionChange();
        _tracker?.OnTick();
        PumpDirtyLog();
        FeedSyncBudget();
        WitnessTick();
        long now = _time.GetTimestamp();
        if (!_handshaking.IsNone && _time.GetElapsedTime(_handshakeStarted, now) > _options.HeartbeatTimeout)
        {
            LinkId link = _handshaking;
            _handshaking = LinkId.None;
            string reason = string.Create(CultureInfo.InvariantCulture, $"the secondary at {_options.Peer} did not answer the hello within {_options.HeartbeatTimeout.TotalMilliseconds} ms");
            _actions.Close(link, null);
            HandshakeFailed(PrimaryStartOutcome.Unreachable, reason);
        }

        if (_link.IsNone)
        {
            return;
        }

        if (_time.GetElapsedTime(_lastReceived, now) > _options.HeartbeatTimeout)
        {
            OnLinkLost(_link, string.Create(CultureInfo.InvariantCulture, $"no frame from the secondary for {_options.HeartbeatTimeout.TotalMilliseconds} ms"));
            return;
        }

        // Probes only where a lease counts (with a witness): a secondary echoes each one at once.
        _actions.Send(_link, FrameType.Heartbeat, new HeartbeatMessage { Epoch = _engine!.CurrentEpoch, Probe = _options.Witness is null ? 0 : now });
    }

    private void BeginConnect()
    {
        _connecting = true;
        _actions.Connect(_options.HeartbeatTimeout);
    }

    private void OnHandshakeAnswer(LinkId link, in PrimaryInput input)
    {
        if (input.Kind == PrimaryInputKind.Heartbeat)
        {
            // No answer, and no harm: a heartbeat carries no state. (Over a link that may reorder
            // frames, the secondary's first heartbeat can overtake its welcome.)
            return;
        }

        _handshaking = LinkId.None;
        switch (input.Kind)
        {
            case PrimaryInputKind.Welcome:
                OnWelcome(link, input.Welcome!);
                return;
            case PrimaryInputKind.PeerError:
                _actions.Close(link, null);
                HandshakeFailed(input.Fenced ? PrimaryStartOutcome.Fenced : PrimaryStartOutcome.Refused, $"the secondary at {_options.Peer} refused this primary: {input.Reason}");
                return;
            case PrimaryInputKind.Malformed:
                _actions.Close(link, input.Reason);
                HandshakeFailed(PrimaryStartOutcome.Refused, $"the secondary at {_options.Peer} answered the hello with a damaged frame: {input.Reason}");
                return;
            default:
                string reason = string.Create(CultureInfo.InvariantCulture, $"frame {input.LinkSequence}: expected {FrameType.Welcome}, got {input.Type}");
                _actions.Close(link, reason);
                HandshakeFailed(PrimaryStartOutcome.Refused, $"the secondary at {_options.Peer} answered the hello out of turn: {reason}");
                return;
        }
    }

    /// <summary>The secondary's welcome: is it this pair's, at this generation, with room to take a stream?</summary>
    private void OnWelcome(LinkId link, WelcomeMessage welcome)
    {
        // I6: only a secondary of this very generation is ever written to.
        HandshakeVerdict verdict = Handshake.CheckWelcome(welcome, _identity, _options.PageTerms);
        string? mismatch = verdict.Reason;
        long smallestCredit = 2L * (_options.MaxRequestBytes + MirrorRecord.RecordOverheadBytes);
        if (verdict.IsAccepted && welcome.BufferCapacityBytes < smallestCredit)
        {
            mismatch = $"the secondary has only {welcome.BufferCapacityBytes} bytes of buffer free (at least {smallestCredit} needed): it is still draining an earlier session; start again shortly";
        }

        if (mismatch is not null)
        {
            _actions.Close(link, mismatch);
            HandshakeFailed(verdict.Outcome == HandshakeOutcome.Fenced ? PrimaryStartOutcome.Fenced : PrimaryStartOutcome.Refused, $"the secondary at {_options.Peer} is not this pair's: {mismatch}");
            return;
        }

        // Whose data is valid, and what must be copied: the generation table, the one place it is decided.
        GenerationVerdict data = GenerationTable.Decide(_state!.Generations, welcome.Generations, _options.AllowFullSync);
        if (data.IsRefusal)
        {
            _actions.Close(link, data.Explanation);
            HandshakeFailed(data.Decision == SyncDecision.RefuseSecondaryAhead ? PrimaryStartOutcome.Fenced : PrimaryStartOutcome.Refused, $"the secondary at {_options.Peer} was refused: {data.Explanation}");
            return;
        }

        _pageEncoder = welcome.PageTerms.Encodes ? new CheckpointPageEncoder(welcome.PageEncoding, welcome.PageCacheBytes) : null;
        if (_engine is not null)
        {
            ResyncOver(link, welcome, data.Decision);
        }
        else if (KnownEqualAtStart(welcome, data.Relation))
        {
            StartOver(link, welcome);
        }
        else
        {
            StartSyncing(link, welcome, data.Decision);
        }
    }

    /// <summary>
    /// Whether the secondary's image is known equal to this primary's as it starts: same generation
    /// and the checkpoint a clean stop recorded — or, on the pair's very first start, a blank
    /// secondary that the operator vouched for (--skip-initial-sync).
    /// </summary>
    private bool KnownEqualAtStart(WelcomeMessage welcome, PairRelation relation)
    {
        long applied = _stateAtStart.AppliedEpoch;
        return relation switch
        {
            PairRelation.SameGeneration => applied >= 0 && welcome.LastCommittedEpoch == applied,
            PairRelation.SecondaryBlank => _options.SkipInitialSync && applied == 0 && welcome.LastCommittedEpoch == 0,
            _ => false,
        };
    }

    /// <summary>
    /// The first link, to a secondary whose image is not known equal: the engine starts degraded and
    /// the link at once carries a sync — of the regions written since the secondary's checkpoint
    /// where this primary knows them, of the whole image otherwise — while the guest runs. A
    /// secondary that cannot be synced at all (it lost committed checkpoints, or has too little
    /// buffer) fails the start: the guest is never served unprotected unless the operator said so.
    /// </summary>
    private void StartSyncing(LinkId link, WelcomeMessage welcome, SyncDecision decision)
    {
        PrimaryEngine engine = new(DegradedEngineOptions($"the secondary at {_options.Peer} is being synced"), _engineActions);
        RecordImagesNotKnownEqual();
        UseEngine(engine);
        _link = link;
        _lastReceived = _time.GetTimestamp();
        if (BeginSync(engine, welcome, decision) is { Reason: var reason })
        {
            _link = LinkId.None;
            Volatile.Write(ref _engine, null);
            _actions.Close(link, reason);
            _actions.Started(new PrimaryStart(PrimaryStartOutcome.Refused, $"the secondary at {_options.Peer} cannot be synced: {reason}"));
            return;
        }

        Log.Connected(_log, _options.Peer, welcome.LastCommittedEpoch, welcome.BufferCapacityBytes);
        _actions.Started(PrimaryStart.Running);
        _actions.ReplicationChanged(PrimaryReplication.Resyncing, engine.DegradedReason);
    }

    /// <summary>The first link: both images are known equal, so replication simply begins.</summary>
    private void StartOver(LinkId link, WelcomeMessage welcome)
    {
        RecordImagesNotKnownEqual();
        PrimaryEngine engine = new(
            new PrimaryOptions
            {
                Geometry = new Core.Blocks.BlockGeometry(_options.ImageBytes, _options.MaxRequestBytes),
                SecondaryBufferBytes = welcome.BufferCapacityBytes,
                FirstEpoch = welcome.LastCommittedEpoch + 1,
                FirstSequence = welcome.LastCommittedSequence + 1,
                MaxUnacknowledgedCheckpoints = _options.MaxUnacknowledgedCheckpoints,
                Plant = _options.Plant,
                DirtyRegionBytes = _options.DirtyRegionBytes,
                MaxResyncReadsInFlight = _options.MaxSyncReadsInFlight,
                ChecksumWholeImageSync = _options.SyncChecksums,
            },
            _engineActions);
        UseEngine(engine);
        _link = link;
        _lastReceived = _time.GetTimestamp();
        RecordSecondaryLineage();
        Log.Connected(_log, _options.Peer, welcome.LastCommittedEpoch, welcome.BufferCapacityBytes);
        _actions.Started(PrimaryStart.Running);
    }

    /// <summary>
    /// A new link after a loss: the engine decides whether to resync over it; if it does, the link
    /// becomes current before the resync start goes out on it.
    /// </summary>
    private void ResyncOver(LinkId link, WelcomeMessage welcome, SyncDecision decision)
    {
        PrimaryEngine engine = _engine!;
        if (_stopping || engine.Replication != PrimaryReplication.Degraded || !_link.IsNone)
        {
            _reconnecting = false;
            _actions.Close(link, "the primary is stopping or no longer needs a new link");
            return;
        }

        _link = link;
        _lastReceived = _time.GetTimestamp();
        Log.Reconnected(_log, _options.Peer, welcome.LastCommittedEpoch, welcome.BufferCapacityBytes);
        if (BeginSync(engine, welcome, decision) is { Reason: var reason })
        {
            _link = LinkId.None;
            Log.ResyncRefused(_log, reason);
            _actions.Close(link, reason);
            ScheduleAttempt();
            return;
        }

        _reconnecting = false;
        _actions.ReplicationChanged(PrimaryReplication.Resyncing, engine.DegradedReason);
    }

    /// <summary>
    /// Starts the sync the table decided over the current link: the regions written since the
    /// secondary's checkpoint, or the whole image — also when which regions it lacks is not known.
    /// Returns why the secondary cannot be synced at all, or null.
    /// </summary>
    private ResyncRefusal? BeginSync(PrimaryEngine engine, WelcomeMessage welcome, SyncDecision decision)
    {
        ResyncScope scope = ScopeFromDirtyLog(engine, welcome, decision == SyncDecision.FullSync ? ResyncScope.WholeImage : ResyncScope.DirtyRegions);
        if (welcome.FormerPrimaryWrites is { } former)
        {
            if (WhyNotFromChanges(welcome, former, decision) is { } whole)
            {
                Log.WholeImageInstead(_log, whole);
                scope = ResyncScope.WholeImage;
            }
            else
            {
                Log.RollingBackFormerPrimary(_log, former.RangeCount, former.Bytes, welcome.Generations.ToString());
                IEnumerable<(long Offset, long Length)> rolledBack = _options.Plant == Core.Testing.PlantedBug.FailbackKeepsOldWrites ? [] : former.Pairs();
                ResyncRefusal? rollback = engine.BeginFormerPrimaryResync(welcome.LastCommittedEpoch, welcome.LastCommittedSequence, welcome.BufferCapacityBytes, rolledBack, welcome.SeenEpoch, welcome.SeenSequence);
                if (rollback is not { WholeImageWouldDo: true } changesUnknown)
                {
                    return rollback;
                }

                Log.WholeImageInstead(_log, changesUnknown.Reason);
                scope = ResyncScope.WholeImage;
            }
        }

        ResyncRefusal? refusal = engine.BeginResync(welcome.LastCommittedEpoch, welcome.LastCommittedSequence, welcome.BufferCapacityBytes, scope, welcome.SeenEpoch, welcome.SeenSequence);
        if (refusal is { WholeImageWouldDo: true } unknown)
        {
            // The secondary holds this primary's data (the table said so), but which regions it
            // lacks is not known: copying all of them is slower, never wrong.
            Log.WholeImageInstead(_log, unknown.Reason);
            refusal = engine.BeginResync(welcome.LastCommittedEpoch, welcome.LastCommittedSequence, welcome.BufferCapacityBytes, ResyncScope.WholeImage, welcome.SeenEpoch, welcome.SeenSequence);
        }

        return refusal;
    }

    /// <summary>
    /// Why a former primary (a node that comes back as a secondary with writes of its own) must be
    /// copied whole, or null when copying what this node changed since it took over from that
    /// node's generation, plus what that node wrote, makes the two equal: it must be behind in
    /// generations, say what it wrote against the same generation, and this node must still count
    /// its changes from that generation's last checkpoint — no later than the one it took over from.
    /// </summary>
    private string? WhyNotFromChanges(WelcomeMessage welcome, FormerPrimaryWrites former, SyncDecision decision)
    {
        long generation = welcome.Generations.Current?.Id ?? 0;
        return decision != SyncDecision.Resync ? "the former primary's data is not an ancestor of this node's"
            : !former.Known ? $"the former primary cannot say which regions it wrote: {former.UnknownBecause}"
            : former.Generation != generation ? "the former primary's dirty log was kept against another data generation than it holds"
            : _knowledgeBase is not { } known || known.AcknowledgedGeneration != (ulong)generation
                ? "this node does not count its changes from where that generation ended here (it synced another node since, or kept no dirty log across a restart)"
            : former.AcknowledgedEpoch > known.AcknowledgedEpoch
                ? string.Create(CultureInfo.InvariantCulture, $"the former primary's log counts from checkpoint {former.AcknowledgedEpoch}, past checkpoint {known.AcknowledgedEpoch} this node took over from (committed checkpoints were discarded at the takeover)")
            : null;
    }

    /// <summary>
    /// A connect or handshake did not give a link. At start the start fails (never retried: an
    /// operator must look); later a fenced primary stops trying and anything else is retried with
    /// backoff (the operator may fix the secondary meanwhile).
    /// </summary>
    private void HandshakeFailed(PrimaryStartOutcome outcome, string reason)
    {
        if (_engine is null)
        {
            if (outcome == PrimaryStartOutcome.Unreachable && _options.StartWithoutSecondary)
            {
                StartAlone(reason);
                return;
            }

            _actions.Started(new PrimaryStart(outcome, outcome == PrimaryStartOutcome.Unreachable ? $"{reason}; to run unprotected until it is back (after making sure it was not promoted), start with --start-without-secondary" : reason));
            return;
        }

        if (outcome == PrimaryStartOutcome.Fenced)
        {
            _reconnecting = false;
            FenceOff(reason);
            return;
        }

        Log.ReconnectFailed(_log, _reconnectAttempts, reason);
        ScheduleAttempt();
    }

    /// <summary>The secondary broke the protocol or said goodbye: the link is lost, and retiring it closes it with the reason.</summary>
    private void CloseForViolation(LinkId link, string reason)
    {
        Log.ProtocolViolation(_log, reason);
        OnLinkLost(link, reason);
    }
}
