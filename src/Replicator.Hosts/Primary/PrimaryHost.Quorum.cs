using Replicator.Core.Blocks;
using Replicator.Core.Primary;
using Replicator.Hosts.Links;
using Replicator.Hosts.Witness;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Witness;

namespace Replicator.Hosts.Primary;

/// <summary>
/// Quorum (with a witness): the primary acknowledges a guest request only while it sees a majority
/// for its current data generation — its secondary following it (a lease from the echo of its
/// heartbeat probe) or the witness (a lease from its answer). Every answer is checked against the
/// clock as it goes out, so a primary paused past its leases wakes and holds what it had read. Held
/// answers go out, in order, once a majority is back; all fail, and every later one, once the
/// witness says another node took the pair's data over (I6).
/// </summary>
public sealed partial class PrimaryHost
{
    private readonly Queue<HeldAnswer> _held = new();
    private readonly Queue<long> _heldOutputs = new();
    private (long Epoch, bool Whole)? _deferredCapture;
    private WitnessSession? _witness;
    private long _peerLeaseUntil;
    private string? _superseded;
    private bool _quorumLostLogged;
    private string? _lastLeaseRefusal;

    /// <summary>Where the primary stands with its majority (any thread: a racy view).</summary>
    public PrimaryQuorum Quorum =>
        _options.Witness is null ? PrimaryQuorum.NotRequired
        : Volatile.Read(ref _superseded) is not null ? PrimaryQuorum.Superseded
        : PeerLeaseRuns(_time.GetTimestamp()) ? PrimaryQuorum.Peer
        : _witness?.HoldsLease(Generations.Current, _time.GetTimestamp()) == true ? PrimaryQuorum.Witness
        : PrimaryQuorum.Lost;

    /// <summary>Guest answers held for want of a majority.</summary>
    public int HeldAnswers => _held.Count;

    /// <summary>The witness, as the status shows it; null without one.</summary>
    public string? WitnessDescription => _witness?.Describe();

    /// <summary>The connection asked for by <see cref="IPrimaryHostActions.ConnectWitness"/> is open.</summary>
    public void OnWitnessConnected(LinkId link)
    {
        if (_witness is not { } witness || _stopping)
        {
            _actions.Close(link, null);
            return;
        }

        witness.OnConnected(link);
        AskLease();
    }

    public void OnWitnessConnectFailed(string reason) => _witness?.OnConnectFailed(reason);

    private void StartWitness()
    {
        if (_options.Witness is { } options)
        {
            _witness = new WitnessSession(options, Protocol.Messages.NodeRole.Primary, new WitnessTransport(this), _time);
        }
    }

    private void OnWitnessFrame(LinkId link, in PrimaryInput input)
    {
        if (input.Kind != PrimaryInputKind.WitnessAnswer || _witness!.OnAnswer(input.WitnessAnswer!) is not { } answer)
        {
            string reason = input.Reason ?? $"the witness sent {input.Type}";
            _witness!.OnClosed(link, reason);
            _actions.Close(link, reason);
            return;
        }

        if (answer.Verdict == WitnessVerdict.Superseded && answer.Kind == WitnessRequestKind.Lease)
        {
            Supersede($"the witness at {_witness.Address} says: {answer.Reason}");
            return;
        }

        if (answer.Verdict == WitnessVerdict.Refused && !string.Equals(answer.Reason, _lastLeaseRefusal, StringComparison.Ordinal))
        {
            // Said once per reason: the lease is asked at every heartbeat.
            Log.WitnessRefusedLease(_log, _witness.Address, answer.Reason ?? string.Empty);
        }

        _lastLeaseRefusal = answer.Verdict == WitnessVerdict.Refused ? answer.Reason : null;

        ReleaseHeld();
    }

    /// <summary>Whether the witness owns the link, and has now heard it closed.</summary>
    private bool OnWitnessLinkClosed(LinkId link, string reason) => _witness?.OnClosed(link, reason) == true;

    private void WitnessTick()
    {
        if (_witness is null || _superseded is not null || _engine is null)
        {
            return;
        }

        _witness.OnTick(_state!.Generations, WitnessRequestKind.Lease);
        ReleaseHeld();
    }

    /// <summary>Asks the witness for a lease on the current generation now (it changed, or answers wait).</summary>
    private void AskLease()
    {
        if (_superseded is null && _state is not null)
        {
            _witness?.Ask(WitnessRequestKind.Lease, _state.Generations, proposed: null);
        }
    }

    /// <summary>The secondary echoed a heartbeat probe: its promise not to promote runs from the probe's send time.</summary>
    private void OnProbeEchoed(long probe, int promiseMilliseconds)
    {
        long now = _time.GetTimestamp();
        if (_options.Witness is not { } witness || probe <= 0 || probe > now || promiseMilliseconds <= 0)
        {
            return;
        }

        // Shorter than the secondary's own timeout by a tenth: clocks run at slightly different rates.
        TimeSpan lease = TimeSpan.FromMilliseconds(Math.Min(witness.Lease.TotalMilliseconds, promiseMilliseconds * 0.9));
        _peerLeaseUntil = Math.Max(_peerLeaseUntil, probe + (long)(lease.TotalSeconds * _time.TimestampFrequency));
        ReleaseHeld();
    }

    /// <summary>The secondary counts toward the majority only while it follows this very generation (the pair is protected).</summary>
    private bool PeerLeaseRuns(long now) =>
        !_link.IsNone && Engine?.Replication == PrimaryReplication.Protected && now < Volatile.Read(ref _peerLeaseUntil);

    private bool HasQuorum(long now) =>
        _options.Witness is null
        || (_superseded is null && (PeerLeaseRuns(now) || _witness!.HoldsLease(_state!.Generations.Current, now)));

    /// <summary>Every guest answer passes here: sent now, or held (or failed) for want of a majority.</summary>
    private void AnswerGuest(long requestId, RequestStatus status)
    {
        if (_guestWritesFailed is not null)
        {
            status = RequestStatus.IoError;
        }

        if (_options.Witness is null || (status == RequestStatus.Ok && _held.Count == 0 && HasQuorum(_time.GetTimestamp())) || (status != RequestStatus.Ok && _held.Count == 0))
        {
            _actions.CompleteGuest(requestId, status);
            return;
        }

        Hold(new HeldAnswer(requestId, status));
    }

    /// <summary>
    /// Output released with no checkpoint behind it is an acknowledgement too. Without a majority it
    /// waits, and goes back to the engine once the majority is back — to be released as the engine
    /// then decides (at once while degraded, after the next acknowledged checkpoint when protected);
    /// a superseded node never releases it.
    /// </summary>
    private void ReleaseGuestOutput(long outputId, bool protectedByReplica)
    {
        if (_options.Witness is null || protectedByReplica || (_heldOutputs.Count == 0 && HasQuorum(_time.GetTimestamp())))
        {
            _actions.ReleaseOutput(outputId, protectedByReplica);
            return;
        }

        HoldOutput(outputId);
    }

    private void HoldOutput(long outputId)
    {
        NoteQuorumLost();
        _heldOutputs.Enqueue(outputId);
    }

    private void Hold(HeldAnswer answer)
    {
        if (_options.NoQuorum == NoQuorumPolicy.IoError && _held.Count == 0)
        {
            _actions.CompleteGuest(answer.Id, RequestStatus.IoError);
            return;
        }

        NoteQuorumLost();
        _held.Enqueue(answer);
    }

    private void NoteQuorumLost()
    {
        if (!_quorumLostLogged)
        {
            _quorumLostLogged = true;
            Log.QuorumLost(_log, _witness?.Address ?? "none", _options.NoQuorum == NoQuorumPolicy.SuspendIo ? "held" : "failed");
            AskLease();
        }
    }

    /// <summary>
    /// Once a majority is back: held answers go out in order, held output goes back to the engine,
    /// and a capture that waited for the answers runs.
    /// </summary>
    private void ReleaseHeld()
    {
        if ((_held.Count == 0 && _heldOutputs.Count == 0) || !HasQuorum(_time.GetTimestamp()))
        {
            return;
        }

        Log.QuorumRegained(_log, _held.Count);
        _quorumLostLogged = false;
        while (_held.TryDequeue(out HeldAnswer held))
        {
            _actions.CompleteGuest(held.Id, held.Status);
        }

        // Taken out first: a degraded engine releases each at once, back through ReleaseGuestOutput.
        long[] outputs = [.. _heldOutputs];
        _heldOutputs.Clear();
        foreach (long outputId in outputs)
        {
            _engine?.SubmitOutput(outputId);
        }

        RunDeferredCapture();
    }

    /// <summary>Another node holds the pair's data: nothing of this generation is ever acknowledged again.</summary>
    private void Supersede(string reason)
    {
        if (_superseded is not null)
        {
            return;
        }

        Volatile.Write(ref _superseded, reason);

        // The link goes first: nothing held, failed below, may reach a checkpoint the secondary commits.
        if (!_link.IsNone)
        {
            OnLinkLost(_link, reason);
        }

        FenceOff(reason);
    }

    /// <summary>Answers held for a majority that will not come back for this node: they fail, and held output is never released.</summary>
    private void FailHeld()
    {
        while (_held.TryDequeue(out HeldAnswer held))
        {
            _actions.CompleteGuest(held.Id, RequestStatus.IoError);
        }

        _heldOutputs.Clear();
        RunDeferredCapture();
    }

    /// <summary>
    /// The engine drained and wants the VM captured. While answers are held, the capture waits for
    /// them: a checkpoint holds only what the guest was told, so a write on the disk is never in a
    /// checkpoint whose guest still waits for its answer.
    /// </summary>
    private void CaptureWhenAnswered(long epoch, bool whole)
    {
        if (_held.Count == 0)
        {
            _actions.CaptureVmState(epoch, whole);
            return;
        }

        _deferredCapture = (epoch, whole);
    }

    private void RunDeferredCapture()
    {
        if (_deferredCapture is { } capture && _held.Count == 0)
        {
            _deferredCapture = null;
            _actions.CaptureVmState(capture.Epoch, capture.Whole);
        }
    }

    private readonly record struct HeldAnswer(long Id, RequestStatus Status);

    private sealed class WitnessTransport(PrimaryHost host) : IWitnessTransport
    {
        public void ConnectWitness(TimeSpan timeout) => host._actions.ConnectWitness(timeout);

        public void SendToWitness(LinkId link, Protocol.Witness.WitnessRequestMessage request) => host._actions.Send(link, FrameType.WitnessRequest, request);

        public void CloseWitness(LinkId link, string reason) => host._actions.Close(link, reason);
    }
}
