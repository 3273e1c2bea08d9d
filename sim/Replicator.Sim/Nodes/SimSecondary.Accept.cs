using Replicator.Core.Secondary;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using Replicator.Sim.Network;

namespace Replicator.Sim.Nodes;

/// <summary>A primary connecting again: the handshake, as the daemon answers it.</summary>
internal sealed partial class SimSecondary
{
    private LinkSender? _pendingLink;

    /// <summary>A primary connects. Refused while this node is down or another primary's link is still open.</summary>
    public bool Accept(SimConnection connection)
    {
        if (Down || LinkOpen || _pendingLink is not null)
        {
            return false;
        }

        _pendingLink = new LinkSender(_world.Network, connection, toSecondary: false);
        return true;
    }

    /// <summary>
    /// A promoted node fences the old primary; otherwise the welcome says what this node holds, once
    /// no epoch is still being journalled (what it holds would change under the primary's feet).
    /// </summary>
    private void ReceiveHello(SimConnection connection, Frame frame)
    {
        LinkSender pending = _pendingLink!;
        if (frame.Type != FrameType.Hello)
        {
            _pendingLink = null;
            _world.Network.Close(connection, $"expected Hello, got {frame.Type}", this);
            return;
        }

        if (Engine.Phase is SecondaryPhase.Promoting or SecondaryPhase.Promoted)
        {
            _pendingLink = null;
            pending.Control(FrameType.Error, new ErrorMessage { Reason = "this node has been promoted: it follows no primary any more", Fenced = true });
            _world.Network.CloseAfterInFlight(connection, "the secondary fenced the old primary");
            return;
        }

        WelcomeWhenIdle(pending);
    }

    private void WelcomeWhenIdle(LinkSender pending)
    {
        if (Down || _pendingLink != pending || !pending.Connection.IsOpen)
        {
            return;
        }

        if (Engine.EpochsBeingCommitted > 0)
        {
            _world.Clock.After(100, () => WelcomeWhenIdle(pending));
            return;
        }

        pending.Control(FrameType.Welcome, new WelcomeMessage
        {
            ProtocolVersion = Handshake.ProtocolVersion,
            BufferCapacityBytes = Engine.BufferCapacityBytes - Engine.BufferedBytes,
            LastCommittedEpoch = Engine.LastCommittedEpoch,
            LastCommittedSequence = Engine.LastCommittedSequence,
            Role = NodeRole.Secondary,
        });
        _pendingLink = null;
        _link = pending;
        _creditOwed = 0;
        _lastHeardAt = _world.Clock.Now;
    }
}
