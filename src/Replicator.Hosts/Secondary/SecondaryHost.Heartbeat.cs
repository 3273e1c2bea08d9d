using Replicator.Hosts.Links;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Secondary;

/// <summary>Heartbeats: what a silent link means, and when the primary's silence means failover.</summary>
public sealed partial class SecondaryHost
{
    // When the last primary was last heard from (a TimeProvider timestamp; 0: never had one).
    private long _lastPrimaryContact;
    private bool _autoFailoverStarted;

    /// <summary>
    /// The shell's heartbeat timer fired: connections that never said hello and a primary silent for
    /// the timeout are closed, the current primary is sent a heartbeat, and with auto-failover on, a
    /// primary gone for the timeout means promotion.
    /// </summary>
    public void OnHeartbeatTick()
    {
        foreach ((LinkId link, LinkState state) in _links.ToList())
        {
            if (_time.GetElapsedTime(state.LastHeard) <= _options.HeartbeatTimeout)
            {
                continue;
            }

            if (!state.HelloAccepted)
            {
                Refuse(link, "no hello within the heartbeat timeout", fenced: false);
            }
            else if (link == _current)
            {
                Log.HeartbeatTimeout(_log, state.Peer, _options.HeartbeatTimeout.TotalMilliseconds);
                CloseLink(link, "heartbeat timeout");
            }
        }

        if (!_welcomed.IsNone)
        {
            _actions.Send(_welcomed, FrameType.Heartbeat, new HeartbeatMessage { Epoch = _engine?.LastCommittedEpoch ?? 0 });
            return;
        }

        if (_current.IsNone && _options.AutoFailover && _lastPrimaryContact != 0 && !_autoFailoverStarted
            && _time.GetElapsedTime(_lastPrimaryContact) > _options.HeartbeatTimeout)
        {
            _autoFailoverStarted = true;
            Promote($"no primary for {_options.HeartbeatTimeout.TotalMilliseconds} ms");
        }
    }
}
