using Replicator.Hosts.Links;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Secondary;

/// <summary>Heartbeats: what a silent link means, and when the primary's silence means failover.</summary>
public sealed partial class SecondaryHost
{
    // When the last primary was last heard from (a TimeProvider timestamp; 0: never had one).
    private long _lastPrimaryContact;
    private string _lastPrimaryPeer = "the primary";
    private bool _autoFailoverStarted;

    // The current primary's last heartbeat probe: echoed at once, and in every heartbeat after.
    private long _lastProbe;

    /// <summary>
    /// The current primary probed: the echo goes back at once. Receiving the probe is the promise —
    /// this node does not promote until its heartbeat timeout has run from the primary's last frame,
    /// which is no earlier than this one — so the primary may count on it from the probe's send time.
    /// </summary>
    private void EchoProbe(long probe)
    {
        if (probe <= 0)
        {
            return;
        }

        _lastProbe = probe;
        _actions.Send(_welcomed, FrameType.Heartbeat, Heartbeat());
    }

    private HeartbeatMessage Heartbeat() => new()
    {
        Epoch = _engine?.LastCommittedEpoch ?? 0,
        Probe = _lastProbe,
        PromiseMilliseconds = (int)Math.Min(int.MaxValue, _options.HeartbeatTimeout.TotalMilliseconds),
    };

    /// <summary>
    /// The shell saw bytes of a frame not yet whole arrive on <paramref name="link"/> since its last
    /// heartbeat tick. A primary sending a large frame is alive though no frame of it has ended — a
    /// checkpoint carrying all of a guest's RAM takes seconds to cross the link, longer than the
    /// heartbeat timeout on a loaded host or for a large guest, and the primary's heartbeats wait
    /// behind it. Only a link whose hello was accepted earns time so: a stranger trickling bytes
    /// is still closed when its hello does not come.
    /// </summary>
    public void OnFrameArriving(LinkId link)
    {
        if (_links.TryGetValue(link, out LinkState? state) && !state.Closing && state.HelloAccepted)
        {
            state.LastHeard = _time.GetTimestamp();
        }
    }

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
            _actions.Send(_welcomed, FrameType.Heartbeat, Heartbeat());
        }

        WitnessTick();
        if (_welcomed.IsNone && _current.IsNone && _options.AutoFailover && _lastPrimaryContact != 0 && !_autoFailoverStarted
            && _time.GetElapsedTime(_lastPrimaryContact) > _options.HeartbeatTimeout)
        {
            TryAutoFailover($"no primary for {_options.HeartbeatTimeout.TotalMilliseconds} ms");
        }
    }
}
