using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Testing;
using Replicator.Hosts.Links;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;
using Replicator.Protocol.Pages;

namespace Replicator.Hosts.Secondary;

/// <summary>
/// Links from primaries: the hello and its identity checks, the welcome that waits for the journal,
/// the frames of the one welcomed link, and what a link's loss means. A bad frame closes its link and
/// commits nothing of it.
/// </summary>
public sealed partial class SecondaryHost
{
    private readonly Dictionary<LinkId, LinkState> _links = new();

    // The primary whose hello was accepted: at most one at a time.
    private LinkId _current;

    // The link the welcome went out on: the only one anything else is sent on, or taken from.
    private LinkId _welcomed;

    // An accepted hello whose welcome waits until no epoch is half way into the journal.
    private LinkId _welcomeWaiting;

    // What status shows about the link: written on the loop, read by any thread.
    private volatile string _linkDescription = "no primary";

    // Buffer bytes charged by the current primary's records and not yet given back.
    private long _creditOwed;

    // A sync under way (or one whose completing epoch is not yet applied): the generations it
    // brings, from which epoch on. Mirrors the state record's, on the loop.
    private DataGenerations? _syncTarget;
    private long _syncFirstEpoch;

    // Generations a vouched blank image takes as it is (their record may still be on its way).
    private DataGenerations? _takenGenerations;

    // State-record writes asked for and not yet done; the journal appends of epochs
    // sealed meanwhile, and a promotion's record, wait for them.
    private int _stateOperationsPending;
    private readonly Queue<SecondaryStorageOperation> _persistsWaiting = new();
    private SecondaryStorageOperation? _promotionWaiting;

    /// <summary>Links closed because their primary broke the protocol (a malformed frame, pages that do not decode), since the host started.</summary>
    public long ProtocolViolations { get; private set; }

    /// <summary>Why the last of them was closed.</summary>
    public string? LastProtocolViolation { get; private set; }

    /// <summary>A connection was accepted; nothing from it is acted on before its hello passes.</summary>
    public void OnLinkConnected(LinkId link, string peer)
    {
        _links[link] = new LinkState(peer, _time.GetTimestamp());
        if (_stopping)
        {
            CloseLink(link, "the secondary is stopping");
        }
    }

    /// <summary>A link closed (either side, or the network). Only the current primary's loss matters.</summary>
    public void OnLinkClosed(LinkId link, string reason)
    {
        if (_witness?.OnClosed(link, reason) == true)
        {
            // What was asked on it may or may not have been decided: only an answer on a new link says.
            _votesUnanswered = 0;
            return;
        }

        if (!_links.Remove(link, out LinkState? state))
        {
            return;
        }

        if (link == _welcomeWaiting)
        {
            _welcomeWaiting = LinkId.None;
        }

        if (link != _current)
        {
            return;
        }

        _current = LinkId.None;
        _welcomed = LinkId.None;
        _linkDescription = "no primary";
        _lastPrimaryContact = state.LastHeard;
        _lastPrimaryPeer = state.Peer;
        Log.PrimaryLost(_log, reason);

        // Its open epochs can never complete: they go.
        _engine!.OnPrimaryLost();
    }

    /// <summary>A decoded frame from a link.</summary>
    public void OnInput(LinkId link, in SecondaryInput input)
    {
        if (_witness?.Owns(link) == true)
        {
            OnWitnessInput(link, input);
            return;
        }

        if (!_links.TryGetValue(link, out LinkState? state) || state.Closing)
        {
            input.Owner?.Dispose();
            return; // a link closed or being closed: its stream ended
        }

        state.LastHeard = _time.GetTimestamp();
        if (!state.HelloAccepted)
        {
            OnHello(link, state, input);
            return;
        }

        if (link != _welcomed)
        {
            // A primary speaks only after its welcome.
            input.Owner?.Dispose();
            Refuse(link, $"a {input.Kind} frame before the welcome", fenced: false);
            return;
        }

        SecondaryEngine engine = _engine!;
        switch (input.Kind)
        {
            case SecondaryInputKind.Mirror:
                long cost = input.Record.BufferCost;
                if (engine.OnMirror(input.Record, input.Owner) == MirrorOutcome.Buffered)
                {
                    _creditOwed += cost;
                    NoteBuffered(engine.BufferedBytes);
                }

                break;
            case SecondaryInputKind.Checkpoint:
                if (DecodedCheckpoint(link, state, input, out IDisposable? snapshotOwner) is { } checkpoint)
                {
                    NoteCheckpointReceived(checkpoint.Epoch, state.LastHeard);
                    engine.OnCheckpoint(checkpoint, snapshotOwner);
                }

                break;
            case SecondaryInputKind.ResyncStart:
                OnResyncStart(link, input.ResyncStart!);
                break;
            case SecondaryInputKind.Heartbeat:
                EchoProbe(input.Probe);
                break;
            case SecondaryInputKind.WitnessAnswer:
                CloseForViolation(link, state, "a primary does not send WitnessAnswer");
                break;
            case SecondaryInputKind.Switchover:
                OnSwitchover(link, input.Epoch);
                break;
            case SecondaryInputKind.PeerError:
                Log.PeerError(_log, input.Reason!);
                CloseLink(link, "the primary reported an error");
                break;
            case SecondaryInputKind.Hello:
                Refuse(link, "a second hello on one link", fenced: false);
                break;
            case SecondaryInputKind.Malformed:
                CloseForViolation(link, state, input.Reason!);
                break;
        }
    }

    private void OnHello(LinkId link, LinkState state, in SecondaryInput input)
    {
        if (input.Kind != SecondaryInputKind.Hello)
        {
            input.Owner?.Dispose();
            Refuse(link, input.Kind == SecondaryInputKind.Malformed ? input.Reason! : $"expected a hello, got {input.Kind}", fenced: false);
            return;
        }

        HelloMessage hello = input.Hello!;
        HandshakeVerdict verdict = Handshake.Check(hello.ProtocolVersion, hello.Identity, LocalIdentity(), hello.Generations);
        bool checksFencing = _options.Plant != PlantedBug.NoGenerationCheck;

        // I6: a node that took over never follows the old primary again, and tells it so (fenced).
        if (verdict.IsAccepted && checksFencing && (IsPromoted || _store!.State.Role != NodeRole.Secondary))
        {
            verdict = HandshakeVerdict.Fenced("this node has been promoted: it follows no primary any more");
        }

        PairRelation relation = PairRelation.Unrelated;
        if (verdict.IsAccepted)
        {
            // A secondary refuses only what would lose its own data; the rest of the table is the primary's to act on.
            GenerationVerdict data = GenerationTable.Decide(hello.Generations, _store!.State.Generations, fullSyncAllowed: true);
            relation = data.Relation;
            verdict = data.Decision switch
            {
                SyncDecision.RefuseSecondaryAhead when checksFencing => HandshakeVerdict.Fenced(data.Explanation!),
                SyncDecision.RefuseDiverged when checksFencing => HandshakeVerdict.Incompatible(data.Explanation!),
                _ => verdict,
            };
        }

        // A second primary while one is connected is refused, but may pass later: not a misconfiguration.
        string? refusal = verdict.Reason ?? (_current.IsNone ? null : $"a primary is already connected from {_links[_current].Peer}") ?? VoteOutstandingRefusal;
        if (refusal is not null)
        {
            // Whoever it is (a primary of another pair, size, block size or version, a stranger, a
            // second primary), refusing it is all: the node and the pair it serves carry on.
            Refuse(link, refusal, verdict.Outcome == HandshakeOutcome.Fenced);
            return;
        }

        state.HelloAccepted = true;
        state.Relation = relation;
        state.OfferedPages = hello.PageTerms;
        _current = link;
        ForgetProposal();
        Log.PrimaryConnected(_log, state.Peer, $"{hello.Identity}; {hello.Generations}");
        if (hello.VouchesBlankSecondaryEqual && relation == PairRelation.SecondaryBlank && _engine!.LastCommittedEpoch == 0 && _syncTarget is null)
        {
            // The operator vouched that this blank image equals the primary's: it holds the
            // primary's data once the first epoch of the stream is applied.
            Log.TakenAsEqual(_log, hello.Generations.ToString());
            _takenGenerations = hello.Generations;
            RunStateOperation(new SecondaryStorageOperation(SecondaryStorageKind.TakeGenerations, Generations: hello.Generations));
        }

        _welcomeWaiting = link;
        AnswerWaitingWelcome();
    }

    private void Refuse(LinkId link, string reason, bool fenced)
    {
        Metrics?.ConnectionRefused(Diagnostics.RefusalStage.Handshake);
        if (_refusalReports.ShouldReport(out int heldBack))
        {
            Log.HandshakeRefused(_log, _links.GetValueOrDefault(link)?.Peer ?? "?", reason, heldBack);
        }

        CloseLink(link, reason, fenced);
    }

    /// <summary>Has the shell close the link; nothing more from it is acted on, and nothing more is sent on it.</summary>
    private void CloseLink(LinkId link, string reason, bool fenced = false)
    {
        if (_welcomeWaiting == link)
        {
            // A welcome held for the journal to settle is never sent on a closing link (after a
            // promotion it would welcome the very primary just fenced: I6).
            _welcomeWaiting = LinkId.None;
        }

        if (_links.TryGetValue(link, out LinkState? state) && !state.Closing)
        {
            state.Closing = true;
            _actions.Close(link, reason, fenced);
        }
    }

    /// <summary>Sends a waiting welcome once no epoch is half way into the journal.</summary>
    private void AnswerWaitingWelcome()
    {
        SecondaryEngine engine = _engine!;
        if (_welcomeWaiting.IsNone || (engine.EpochsBeingCommitted > 0 && _options.Plant != PlantedBug.WelcomeBeforeSettled))
        {
            return;
        }

        if (IsPromoted && _options.Plant != PlantedBug.NoGenerationCheck)
        {
            // I6: whatever was waiting, a node that took over welcomes no primary.
            _welcomeWaiting = LinkId.None;
            return;
        }

        // The welcome says what this node holds: with an epoch still being journalled that would
        // change under the primary's feet. A new primary gets as credit only the space free now, and
        // is given back only what it itself used: epochs of an earlier session drain without
        // returning credit.
        LinkId link = _welcomeWaiting;
        _welcomeWaiting = LinkId.None;
        _creditOwed = 0;
        ForgetStamps();
        _autoFailoverStarted = false;
        LinkState state = _links[link];
        PageTerms pages = PageTerms.Agree(state.OfferedPages, _options.PageTerms);
        state.Pages = pages.Encodes ? new CheckpointPageDecoder(pages.Encoding, pages.CacheBytes, _options.RamBytes) : null;
        var welcome = new WelcomeMessage
        {
            ProtocolVersion = Handshake.ProtocolVersion,
            Identity = LocalIdentity(),
            BufferCapacityBytes = _options.BufferCapacityBytes - engine.CreditHeldBytes,
            LastCommittedEpoch = engine.LastCommittedEpoch,
            LastCommittedSequence = engine.LastCommittedSequence,
            Role = _store!.State.Role,
            Generations = _store.State.Generations,
            SeenEpoch = engine.LastSealedEpoch,
            SeenSequence = engine.LastSealedSequence,
            FormerPrimaryWrites = _store.State.FormerPrimary ? _formerPrimaryWrites : null,
            PageEncoding = pages.Encoding,
            PageCacheBytes = pages.CacheBytes,
        };
        _actions.Send(link, FrameType.Welcome, welcome);
        _welcomed = link;
        _linkDescription = $"connected to {state.Peer}";
    }

    /// <summary>
    /// A planned switchover: the primary took its last checkpoint, this node acknowledged it, and the
    /// primary takes no more writes. This node takes over from exactly that checkpoint — a promotion
    /// like any, which closes the link (fenced: the old primary now becomes a secondary). Anything
    /// else it holds refuses, and the primary hears why.
    /// </summary>
    private void OnSwitchover(LinkId link, long epoch)
    {
        SecondaryEngine engine = _engine!;
        string? refused = engine.IsResyncing ? "this node is mid-resync: it holds no checkpoint to take over from"
            : engine.LastCommittedEpoch != epoch || engine.LastSealedEpoch != epoch
                ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"the primary hands over at checkpoint {epoch}, but this node committed {engine.LastCommittedEpoch} and sealed {engine.LastSealedEpoch}")
            : null;
        if (refused is null)
        {
            Log.SwitchoverTakingOver(_log, epoch);
            refused = Promote($"the primary handed over at checkpoint {epoch} (switchover)", Diagnostics.PromotionTrigger.Switchover);
        }

        if (refused is not null)
        {
            Log.SwitchoverRefused(_log, epoch, refused);
            CloseLink(link, $"switchover refused: {refused}");
        }
    }

    /// <summary>The primary resyncs this node; a refusal closes its link with the reason.</summary>
    private void OnResyncStart(LinkId link, ResyncStartMessage start)
    {
        SecondaryEngine engine = _engine!;
        PairRelation relation = _links[link].Relation;
        string? refused = start.Generations?.Problem() is { } problem ? $"the resync start carries {problem}"
            : start.Generations is null || start.Generations.IsBlank ? "the resync start names no data generation to take"
            : !start.WholeImage && relation is PairRelation.SecondaryBlank or PairRelation.Unrelated
                ? $"a copy of changed regions only cannot make this image equal to the primary's: it is {(relation == PairRelation.SecondaryBlank ? "blank" : "not known to be this pair's data")} ({_store!.State.Generations})"
            : engine.OnResyncStart(start.BaseEpoch, start.FirstEpoch, start.FirstSequence);
        if (refused is null)
        {
            Log.ResyncStarted(_log, start.WholeImage ? "full sync" : "resync", start.BaseEpoch, start.Regions, start.Bytes, start.FirstEpoch);
            RecordSyncTarget(start.Generations!, start.FirstEpoch);
            return;
        }

        Log.ResyncRefused(_log, refused);
        CloseLink(link, $"resync refused: {refused}", fenced: IsPromoted);
    }

    /// <summary>Has the apply lane record, before the sync's epochs are applied, which generations the image takes when it completes.</summary>
    private void RecordSyncTarget(DataGenerations target, long firstEpoch)
    {
        _syncTarget = target;
        _syncFirstEpoch = firstEpoch;
        RunStateOperation(new SecondaryStorageOperation(SecondaryStorageKind.RecordSyncTarget, Number: firstEpoch, Generations: target));
    }

    /// <summary>
    /// A state-record write on its lane. Counted, so that a promotion records itself only after it:
    /// a sync's target or taken generations landing after the promotion would replace the generation
    /// the promotion began.
    /// </summary>
    private void RunStateOperation(in SecondaryStorageOperation op)
    {
        _stateOperationsPending++;
        _actions.RunStorage(op);
    }

    /// <summary>
    /// The checkpoint of a frame, its pages decoded by the link's decoder when encoded; null when it
    /// cannot be (the link is closed as for any malformed frame, and nothing of the epoch commits).
    /// </summary>
    private CheckpointRecord? DecodedCheckpoint(LinkId link, LinkState state, in SecondaryInput input, out IDisposable? snapshotOwner)
    {
        try
        {
            return SecondaryFrameDecoder.DecodeCheckpoint(input, state.Pages, out snapshotOwner);
        }
        catch (ProtocolViolationException e)
        {
            snapshotOwner = null;
            CloseForViolation(link, state, e.Message);
            return null;
        }
    }

    /// <summary>The primary broke the protocol: its link closes (nothing of its open epochs commits), and the count says so.</summary>
    private void CloseForViolation(LinkId link, LinkState state, string reason)
    {
        ProtocolViolations++;
        LastProtocolViolation = reason;
        Log.ProtocolViolation(_log, state.Peer, reason);
        CloseLink(link, reason);
    }

    private PairIdentity LocalIdentity() => new()
    {
        PairId = _options.PairId,
        ImageBytes = _store!.Image.Size,
        BlockSize = _options.BlockSize,
        MaxRequestBytes = _options.MaxRequestBytes,
    };

    /// <summary>What the host knows of one link.</summary>
    private sealed class LinkState(string peer, long connectedAt)
    {
        public string Peer { get; } = peer;

        public long ConnectedAt { get; } = connectedAt;

        /// <summary>When a frame last arrived (a <see cref="TimeProvider"/> timestamp).</summary>
        public long LastHeard { get; set; } = connectedAt;

        public bool HelloAccepted { get; set; }

        /// <summary>How the primary's hello offered to send pages.</summary>
        public PageTerms OfferedPages { get; set; } = PageTerms.Whole;

        /// <summary>The link's page decoder, made with the welcome (null: pages come whole).</summary>
        public CheckpointPageDecoder? Pages { get; set; }

        /// <summary>How the primary's data relates to this node's, as its hello said.</summary>
        public PairRelation Relation { get; set; } = PairRelation.Unrelated;

        /// <summary>The host asked for the link to close: nothing more from it is acted on.</summary>
        public bool Closing { get; set; }
    }
}
