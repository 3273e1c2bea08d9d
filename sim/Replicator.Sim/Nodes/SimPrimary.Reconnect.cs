using Replicator.Core.Primary;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using Replicator.Sim.Network;

namespace Replicator.Sim.Nodes;

/// <summary>
/// Losing the secondary and getting it back, as the daemon does: the link is retired when
/// replication degrades, reconnection retries with a doubling backoff, a welcome from a secondary
/// that still follows starts a resync, and one that was promoted fences this primary for good (I6).
/// </summary>
internal sealed partial class SimPrimary
{
    private LinkSender? _pending;
    private bool _reconnectScheduled;
    private long _reconnectDelay = -1;

    /// <summary>The secondary was promoted: this primary stays degraded and never reconnects.</summary>
    public bool Fenced { get; private set; }

    public void SendResyncStart(ResyncPlan plan)
    {
        _world.Trace.Event("resync start", plan.FirstEpoch, plan.Bytes);
        _link?.Control(FrameType.ResyncStart, ResyncStartMessage.From(plan));
    }

    public void ReadForResync(long readId, long offset, int length) =>
        Disk.Read(offset, length, (ok, data) => OnHost(() => Engine.OnResyncReadCompleted(readId, ok, data)));

    public void CaptureWholeVmState(long epoch) =>
        _world.Clock.After(_world.Scenario.CaptureUs, () => OnHost(() => Engine.OnVmCaptured(epoch, Guest.CaptureAll(epoch))));

    public void PairProtected(long epoch)
    {
        _world.Trace.Event("protected", epoch);
        _reconnectDelay = -1;
    }

    /// <summary>Replication degraded: the link is closed, and a reconnection is due.</summary>
    private void RetireLink(LinkSender? retired)
    {
        if (retired is not null && _link == retired)
        {
            _link = null;
            _world.Network.Close(retired.Connection, "the primary retired the link", this);
        }

        ScheduleReconnect();
    }

    private void ScheduleReconnect()
    {
        if (_reconnectScheduled || _pending is not null || Fenced || Crashed || Engine.Replication != PrimaryReplication.Degraded)
        {
            return;
        }

        long delay = _reconnectDelay < 0 ? _world.Scenario.ReconnectUs : _reconnectDelay;
        _reconnectDelay = Math.Min(2 * delay, 32 * _world.Scenario.ReconnectUs);
        _reconnectScheduled = true;
        _world.Clock.After(delay, () =>
        {
            _reconnectScheduled = false;
            OnHost(TryReconnect);
        });
    }

    /// <summary>Connects and says hello; the secondary answers with a welcome, or refuses.</summary>
    private void TryReconnect()
    {
        if (Fenced || _link is not null || _pending is not null || Engine.Replication != PrimaryReplication.Degraded)
        {
            return;
        }

        _world.Trace.Event("reconnect");
        SimConnection connection = _world.Network.Connect();
        if (!_world.Secondary.Accept(connection))
        {
            // Refused (nobody listening, or a primary still connected there): try again later.
            _world.Network.Close(connection, "connection refused", this);
            ScheduleReconnect();
            return;
        }

        _pending = new LinkSender(_world.Network, connection, toSecondary: true);
        _pending.Control(FrameType.Hello, Hello());
        _world.Clock.After(_world.Scenario.HeartbeatTimeoutUs, () => OnHost(() =>
        {
            if (_pending?.Connection == connection)
            {
                _pending = null;
                _world.Network.Close(connection, "no welcome within the heartbeat timeout", this);
                ScheduleReconnect();
            }
        }));
    }

    private void ReceiveHandshake(SimConnection connection, Frame frame)
    {
        LinkSender pending = _pending!;
        _pending = null;
        try
        {
            if (frame.Type == FrameType.Error)
            {
                ErrorMessage error = ControlCodec.Decode<ErrorMessage>(frame, FrameType.Error);
                _world.Network.Close(connection, error.Reason, this);
                if (error.Fenced)
                {
                    Fenced = true;
                    _world.Trace.Event("fenced");
                    _world.Trace.Note(() => $"primary fenced: {error.Reason}");
                    return;
                }

                ScheduleReconnect();
                return;
            }

            WelcomeMessage welcome = ControlCodec.Decode<WelcomeMessage>(frame, FrameType.Welcome);
            HandshakeVerdict verdict = Handshake.CheckWelcome(welcome, Identity());
            if (verdict.Outcome == HandshakeOutcome.Fenced)
            {
                // I6: a promoted secondary (or one of a newer generation) is never written to again.
                _world.Network.Close(connection, verdict.Reason!, this);
                Fenced = true;
                _world.Trace.Event("fenced");
                _world.Trace.Note(() => $"primary fenced: {verdict.Reason}");
                return;
            }

            if (!verdict.IsAccepted)
            {
                throw new ProtocolViolationException($"the secondary's welcome was refused: {verdict.Reason}");
            }

            if (Engine.Replication != PrimaryReplication.Degraded)
            {
                _world.Network.Close(connection, "no longer needed", this);
                return;
            }

            // The link is current before the resync start goes out on it.
            _link = pending;
            _lastHeardAt = _world.Clock.Now;
            string? refusal = Engine.BeginResync(welcome.LastCommittedEpoch, welcome.LastCommittedSequence, welcome.BufferCapacityBytes);
            if (refusal is not null)
            {
                _link = null;
                _world.Trace.Note(() => $"resync refused: {refusal}");
                _world.Network.Close(connection, refusal, this);
                ScheduleReconnect();
            }
        }
        catch (ProtocolViolationException e)
        {
            _world.Network.Close(connection, e.Message, this);
            ScheduleReconnect();
        }
    }
}
