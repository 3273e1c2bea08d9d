using System.Globalization;
using Replicator.Hosts.Links;
using Replicator.Hosts.Witness;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;
using Replicator.Protocol.Witness;

namespace Replicator.Hosts.Secondary;

/// <summary>
/// Automatic failover that never makes two writers: with a witness, the secondary promotes itself
/// only with the witness's vote for its generation (drawn before it asks, so the witness records the
/// very generation it will begin); with a fence command, that command runs first — and without a
/// witness the promotion waits for its success. A node that cannot take over (blank, mid-resync)
/// asks no vote: a vote spent on it would leave the pair with no writer at all.
/// </summary>
public sealed partial class SecondaryHost
{
    private WitnessSession? _witness;
    private GenerationMark? _proposedGeneration;
    private GenerationMark? _promotionGeneration;
    private long _voteAskedAt;

    // A promotion is put to the witness: no primary is followed until it answers (see NodeState.ProposedPromotion).
    private bool _voteOutstanding;
    private bool _proposalRecorded;
    private int _votesUnanswered;

    // The operator asked for the failover: the vote's answer is the answer to the operator.
    private string? _operatorFailoverReason;
    private bool _fenceRunning;
    private long _fenceRetryAt;
    private string? _autoFailoverRefused;
    private string? _lastVoteRefusal;

    /// <summary>The witness, as the status shows it; null without one.</summary>
    public string? WitnessDescription => _witness?.Describe();

    /// <summary>Why automatic failover will not happen (the witness said the pair's data moved on without this node); null otherwise.</summary>
    public string? AutoFailoverRefused => _autoFailoverRefused;

    /// <summary>The connection asked for by <see cref="ISecondaryHostActions.ConnectWitness"/> is open.</summary>
    public void OnWitnessConnected(LinkId link)
    {
        if (_witness is not { } witness || _stopping)
        {
            _actions.Close(link, "no witness is wanted");
            return;
        }

        witness.OnConnected(link);
        if (_voteOutstanding && !IsPromoted)
        {
            _voteAskedAt = 0;
            AskVote();
            return;
        }

        witness.Ask(WitnessRequestKind.Presence, _store!.State.Generations, proposed: null);
    }

    /// <summary>
    /// The operator's failover on a pair with a witness goes to the witness as an automatic one
    /// does: granted only once no lease of the old primary can run, and recorded there, so the old
    /// primary — alive but cut off — is superseded and never acknowledges another write (I6).
    /// Returns why not at once (the node cannot take over, the witness is not reached); null when
    /// the vote is asked (its refusal comes as <see cref="ISecondaryHostActions.PromotionRefused"/>).
    /// </summary>
    private string? PromoteByVote(string reason)
    {
        string? cannot = CannotTakeOver
            ?? (!_current.IsNone ? $"the primary at {_links[_current].Peer} is connected and heartbeating: it is alive. Move the writer with `replicator switchover` on it, or stop it first"
            : _autoFailoverRefused is { } superseded ? $"the witness at {_witness!.Address} will not vote for this node: {superseded}"
            : _witness!.Contact != WitnessContact.Connected ? $"the witness at {_witness.Address} is not reached ({_witness.Describe()}): a failover without its vote could leave the old primary writing. Bring the witness back, or restart this node without --witness to fail over on your own judgement"
            : null);
        if (cannot is not null)
        {
            Log.NotPromoting(_log, reason, cannot);
            return cannot;
        }

        Log.OperatorFailoverToWitness(_log, _witness!.Address);
        _operatorFailoverReason = reason;
        _voteAskedAt = 0;
        AskVote();
        return null;
    }

    /// <summary>The operator's failover is answered no: the vote was refused, or the witness superseded this node.</summary>
    private void RefuseOperatorFailover(string why)
    {
        if (_operatorFailoverReason is null)
        {
            return;
        }

        _operatorFailoverReason = null;
        string refusal = $"the witness at {_witness!.Address} refused the failover: {why}";
        Log.NotPromoting(_log, "operator", refusal);
        _actions.PromotionRefused(refusal);
    }

    /// <summary>Why a primary's hello is refused while the witness decides this node's promotion; null when it is not.</summary>
    private string? VoteOutstandingRefusal => _voteOutstanding
        ? $"this node asked the witness at {_witness!.Address} to vote for its promotion, and follows no primary until the witness answers"
        : null;

    public void OnWitnessConnectFailed(string reason) => _witness?.OnConnectFailed(reason);

    /// <summary>The fence command ended: <paramref name="succeeded"/> when it exited 0 in time.</summary>
    public void OnFenceCompleted(bool succeeded, string detail)
    {
        _fenceRunning = false;
        if (_options.Witness is not null)
        {
            // The witness decided already; the command ran for the operator's sake.
            Log.FenceRanAfterVote(_log, succeeded ? "succeeded" : "failed", detail);
            return;
        }

        if (!succeeded)
        {
            Log.FenceFailed(_log, detail, _options.HeartbeatTimeout.TotalMilliseconds);
            _fenceRetryAt = _time.GetTimestamp() + (long)(_options.HeartbeatTimeout.TotalSeconds * _time.TimestampFrequency);
            return;
        }

        if (!_current.IsNone || _autoFailoverStarted)
        {
            return; // a primary came back meanwhile, or promotion began otherwise
        }

        _autoFailoverStarted = true;
        Promote($"the primary was silent and the fence command succeeded ({detail})", Diagnostics.PromotionTrigger.Automatic);
    }

    private void StartWitness()
    {
        if (_options.Witness is { } options)
        {
            _witness = new WitnessSession(options, NodeRole.Secondary, new WitnessTransport(this), _time);
        }

        if (_store!.State.ProposedPromotion is not { } proposal || _store.State.Role != NodeRole.Secondary)
        {
            return;
        }

        if (_witness is null)
        {
            // Started without the witness it asked: it cannot learn the answer; the old primary, if
            // the vote was granted, learns it from the witness and stops (superseded).
            Log.ProposalDropped(_log, proposal.ToString());
            _proposedGeneration = proposal;
            ForgetProposal();
            return;
        }

        // Asked before the node stopped: the question stands until the witness answers it.
        Log.ProposalResumed(_log, proposal.ToString(), _witness.Address);
        _proposedGeneration = proposal;
        _proposalRecorded = true;
        _voteOutstanding = true;
    }

    /// <summary>The proposal is durable (or its clearing is): the vote is asked now.</summary>
    private void OnProposalRecorded()
    {
        _proposalRecorded = _proposedGeneration is not null && Equals(_store!.State.ProposedPromotion, _proposedGeneration);
        if (_proposalRecorded && _voteOutstanding && !IsPromoted)
        {
            AskVote();
        }
    }

    /// <summary>No promotion is asked any more (a primary is followed, or the witness superseded this node): the record says so too.</summary>
    private void ForgetProposal()
    {
        _voteOutstanding = false;
        if (_proposedGeneration is null || IsPromoted)
        {
            return;
        }

        _proposedGeneration = null;
        _proposalRecorded = false;
        RunStateOperation(new SecondaryStorageOperation(SecondaryStorageKind.RecordProposedPromotion, Proposal: null));
    }

    private void WitnessTick()
    {
        if (_witness is null || _store is null || IsPromoted)
        {
            return;
        }

        if (_voteOutstanding && _autoFailoverRefused is null)
        {
            // A question that stands is asked until answered, whatever the primary does.
            if (_witness.KeepConnected())
            {
                AskVote();
            }

            return;
        }

        _witness.OnTick(_store.State.Generations, WitnessRequestKind.Presence);
    }

    /// <summary>The primary has been silent for the timeout: ask the witness's vote, or fence, or promote — as configured.</summary>
    private void TryAutoFailover(string reason)
    {
        if (_autoFailoverRefused is not null || IsPromoted)
        {
            return;
        }

        if (CannotTakeOver is not null)
        {
            return; // Promote would refuse: no vote is spent and no fence is run for nothing
        }

        if (_witness is not null)
        {
            AskVote();
            return;
        }

        if (_options.FenceCommand is { } command)
        {
            if (!_fenceRunning && _time.GetTimestamp() >= _fenceRetryAt)
            {
                _fenceRunning = true;
                Log.Fencing(_log, _lastPrimaryPeer, command);
                _actions.RunFence(FenceOf(command));
            }

            return;
        }

        // Neither: the daemon refuses this configuration at start; the simulator's two-node runs still use it.
        _autoFailoverStarted = true;
        Promote(reason, Diagnostics.PromotionTrigger.Automatic);
    }

    private void AskVote()
    {
        long now = _time.GetTimestamp();
        if (_voteAskedAt != 0 && _time.GetElapsedTime(_voteAskedAt, now) < _options.HeartbeatTimeout / 4)
        {
            return; // one in flight: asked again only if its answer is late
        }

        // From the moment a vote may be asked, no primary is followed: were it granted, the old
        // primary must find no secondary to lease from (I6).
        _voteOutstanding = true;
        if (_proposedGeneration is null)
        {
            // The same proposal every time, recorded before it is asked: a repeat after a lost
            // answer, or after a restart, is granted again, never twice over.
            _proposedGeneration = GenerationMark.Draw(GenerationCause.Promotion, _time.GetUtcNow());
            _proposalRecorded = false;
            RunStateOperation(new SecondaryStorageOperation(SecondaryStorageKind.RecordProposedPromotion, Proposal: _proposedGeneration));
            return;
        }

        if (!_proposalRecorded)
        {
            return; // asked once the record holds it
        }

        if (_witness!.Ask(WitnessRequestKind.Vote, _store!.State.Generations, _proposedGeneration))
        {
            _voteAskedAt = now;
            _votesUnanswered++;
        }
    }

    private void OnWitnessInput(LinkId link, in SecondaryInput input)
    {
        input.Owner?.Dispose();
        if (input.Kind != SecondaryInputKind.WitnessAnswer || _witness!.OnAnswer(input.WitnessAnswer!) is not { } answer)
        {
            string reason = input.Reason ?? $"the witness sent {input.Kind}";
            _witness!.OnClosed(link, reason);
            _actions.Close(link, reason);
            return;
        }

        if (answer.Kind != WitnessRequestKind.Vote)
        {
            return; // presence: the answer only says the witness is there
        }

        _voteAskedAt = 0;
        _votesUnanswered = Math.Max(0, _votesUnanswered - 1);
        switch (answer.Verdict)
        {
            // Even if the primary came back meanwhile: the witness recorded this node's generation,
            // so the old primary is superseded and this node is the pair's only possible writer.
            case WitnessVerdict.Granted when !_autoFailoverStarted && !IsPromoted && _operatorFailoverReason is { } asked:
                _operatorFailoverReason = null;
                _autoFailoverStarted = true;
                Promote($"{asked}, with the vote of the witness at {_witness.Address}", Diagnostics.PromotionTrigger.Operator, _proposedGeneration);
                break;
            case WitnessVerdict.Granted when !_autoFailoverStarted && !IsPromoted:
                _autoFailoverStarted = true;
                if (_options.FenceCommand is { } command)
                {
                    _fenceRunning = true;
                    _actions.RunFence(FenceOf(command));
                }

                Promote($"the primary was silent for {_options.HeartbeatTimeout.TotalMilliseconds} ms and the witness at {_witness.Address} voted for it", Diagnostics.PromotionTrigger.Automatic, _proposedGeneration);
                break;
            case WitnessVerdict.Superseded:
                RefuseOperatorFailover(answer.Reason ?? "superseded");
                ForgetProposal();
                _autoFailoverRefused = answer.Reason;
                Log.AutoFailoverRefused(_log, _witness.Address, answer.Reason ?? string.Empty);
                break;
            case WitnessVerdict.Refused:
                // Not recorded: a primary may be followed again — once no other ask of it is unanswered
                // (a later one could still be granted). The proposal is kept for the next ask.
                if (_votesUnanswered == 0)
                {
                    _voteOutstanding = false;
                    RefuseOperatorFailover(answer.Reason ?? "refused");
                }

                if (!string.Equals(answer.Reason, _lastVoteRefusal, StringComparison.Ordinal))
                {
                    _lastVoteRefusal = answer.Reason;
                    Log.VoteRefused(_log, _witness.Address, answer.Reason ?? string.Empty);
                }

                break;
        }
    }

    private FenceRequest FenceOf(string command) => new(
        command,
        _options.PairId,
        _lastPrimaryPeer,
        _store!.State.Generations.Current?.Id.ToString("x16", CultureInfo.InvariantCulture) ?? string.Empty,
        _options.FenceTimeout);

    private sealed class WitnessTransport(SecondaryHost host) : IWitnessTransport
    {
        public void ConnectWitness(TimeSpan timeout) => host._actions.ConnectWitness(timeout);

        public void SendToWitness(LinkId link, WitnessRequestMessage request) => host._actions.Send(link, FrameType.WitnessRequest, request);

        public void CloseWitness(LinkId link, string reason) => host._actions.Close(link, reason);
    }
}
