using System.Globalization;
using Replicator.Core.Primary;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Primary;

/// <summary>
/// A planned switchover, the primary's half: a clean stop (the last checkpoint acknowledged, the
/// images recorded equal at it, the dirty log closed — so what this image holds beyond the
/// checkpoint is exactly what the log names), then the handover frame; the secondary takes over at
/// that checkpoint and closes the link, and this node becomes its secondary. From the handover on,
/// this node acknowledges no guest write and begins no generation: whatever happens, two writers never.
/// </summary>
public sealed partial class PrimaryHost
{
    private long? _switchoverWaiter;
    private long _handedOverAt = -1;

    /// <summary>The handover was sent: this node takes no more guest writes as a primary.</summary>
    public bool HandedOver => _handedOverAt >= 0;

    /// <summary>
    /// Hands the primary role to the secondary. Call with the guest quiet (the shell stopped taking
    /// requests); <see cref="IPrimaryHostActions.SwitchoverEnded"/> reports under <paramref name="waiterId"/>.
    /// </summary>
    public void SwitchOver(long waiterId)
    {
        string? refused = _switchoverWaiter is not null || HandedOver ? "a switchover is already under way"
            : _stoppingCleanly ? "the primary is stopping"
            : TakeoverDraining ? "this node's takeover is still writing the committed epochs it took over into its image; try again once `status` no longer says so"
            : _engine is not { Replication: PrimaryReplication.Protected } engine || _link.IsNone
                ? $"the pair is not protected ({_engine?.DegradedReason ?? _engine?.Replication.ToString() ?? "not started"}): the secondary holds no checkpoint to take over from that this primary knows"
            : null;
        if (refused is not null)
        {
            _actions.SwitchoverEnded(waiterId, new SwitchoverResult(SwitchoverOutcome.NotHandedOver, 0, refused));
            return;
        }

        _switchoverWaiter = waiterId;
        StopCleanly(waiterId);
    }

    /// <summary>A clean stop's waiter completes at <paramref name="epoch"/>: a switchover's goes on to the handover.</summary>
    private void CompleteCleanStop(long waiterId, long epoch)
    {
        if (waiterId != _switchoverWaiter)
        {
            _actions.CheckpointWaiterCompleted(waiterId, epoch);
            return;
        }

        // The dirty log's close ends the clean stop, and the link may have been lost meanwhile: the
        // record then no longer says both images are equal (epoch -1), and a secondary resynced
        // since holds no checkpoint of this stop. Nothing is handed over then.
        if (_link.IsNone || epoch < 0 || _engine is not { Replication: PrimaryReplication.Protected })
        {
            EndSwitchover(new SwitchoverResult(SwitchoverOutcome.NotHandedOver, 0, "the secondary was lost after acknowledging the last checkpoint, before the handover: this node is still the primary"));
            return;
        }

        // Durable before the handover leaves: started as a secondary from now on, this node is
        // demoted (its image is checked against the new primary's), never a promotion resumed.
        try
        {
            _state = _state! with { PrimaryByPromotion = false };
            _states.Save(_state);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            EndSwitchover(new SwitchoverResult(SwitchoverOutcome.NotHandedOver, 0, $"{_states.Path} could not record the handover ({e.Message}): this node is still the primary"));
            return;
        }

        _handedOverAt = epoch;
        Log.HandingOver(_log, epoch, _options.Peer);
        _actions.Send(_link, FrameType.Switchover, new SwitchoverMessage { Epoch = epoch });
    }

    /// <summary>A waiter fails: a switchover's clean stop failing means nothing was handed over.</summary>
    private void FailWaiter(long waiterId, string reason)
    {
        if (waiterId == _switchoverWaiter && !HandedOver)
        {
            EndSwitchover(new SwitchoverResult(SwitchoverOutcome.NotHandedOver, 0, reason));
            return;
        }

        _actions.CheckpointWaiterFailed(waiterId, reason);
    }

    /// <summary>
    /// After the handover, the link ends: closed by the secondary as it takes over (fenced: a
    /// promotion is the only thing that closes a link so), closed with any other answer (it did not
    /// take over), or lost without one. True when this was that end.
    /// </summary>
    private bool EndHandover(string reason, bool fenced, bool answered)
    {
        if (!HandedOver || _switchoverWaiter is null)
        {
            return false;
        }

        EndSwitchover(fenced
            ? new SwitchoverResult(SwitchoverOutcome.TakenOver, _handedOverAt, $"the secondary took over at checkpoint {_handedOverAt.ToString(CultureInfo.InvariantCulture)}")
            : answered
                ? new SwitchoverResult(SwitchoverOutcome.Refused, _handedOverAt, $"the secondary did not take over: {reason}")
                : new SwitchoverResult(SwitchoverOutcome.Unconfirmed, _handedOverAt, $"the link ended before the secondary answered ({reason}): it may have taken over"));
        return true;
    }

    private void EndSwitchover(SwitchoverResult result)
    {
        long waiter = _switchoverWaiter!.Value;
        _switchoverWaiter = null;
        Log.SwitchoverEnded(_log, result.Outcome.ToString(), result.Detail);
        _actions.SwitchoverEnded(waiter, result);
    }
}
