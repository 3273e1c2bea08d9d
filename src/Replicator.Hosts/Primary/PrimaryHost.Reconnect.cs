using Replicator.Hosts.Links;

namespace Replicator.Hosts.Primary;

/// <summary>
/// Losing the secondary and getting it back: the link is retired whenever replication degrades,
/// attempts to reach the secondary again follow with exponential backoff, and a new link whose
/// secondary still follows this primary starts a resync. A secondary that was promoted (or moved to
/// a newer generation) fences this primary: it stays degraded and stops trying (I6).
/// </summary>
public sealed partial class PrimaryHost
{
    private bool _reconnecting;
    private int _reconnectAttempts;
    private string? _fenced;
    private bool _stopping;

    // Doubles with every attempt and goes back to the configured delay only once the pair is
    // protected again: a link that connects but keeps failing before the resync completes backs off too.
    private TimeSpan _reconnectDelay = TimeSpan.MinValue;

    /// <summary>Attempts to reach the secondary since the pair was last protected.</summary>
    public int ReconnectAttempts => Volatile.Read(ref _reconnectAttempts);

    /// <summary>Why the secondary fenced this primary, or null.</summary>
    public string? FencedReason => Volatile.Read(ref _fenced);

    /// <summary>Where the link stands, for the status.</summary>
    public PrimaryLinkState LinkState =>
        !_link.IsNone ? PrimaryLinkState.Connected
        : _options.Unreplicated ? PrimaryLinkState.Unreplicated
        : FencedReason is not null ? PrimaryLinkState.Fenced
        : Engine is null ? PrimaryLinkState.Starting
        : _options.ReconnectDelay == TimeSpan.Zero ? PrimaryLinkState.LostForGood
        : PrimaryLinkState.Reconnecting;

    /// <summary>The shell's reconnect delay (asked by <see cref="IPrimaryHostActions.ScheduleReconnect"/>) ran out: try now.</summary>
    public void OnReconnectDue()
    {
        if (!_reconnecting || _fenced is not null || _stopping || _connecting || !_handshaking.IsNone)
        {
            return;
        }

        BeginConnect();
    }

    /// <summary>The node is going away: no more attempts, no new links.</summary>
    public void Stop() => _stopping = true;

    /// <summary>The link can no longer carry the stream (closed, silent, or it broke the protocol).</summary>
    private void OnLinkLost(LinkId link, string reason)
    {
        if (link != _link || link.IsNone)
        {
            return; // a link already retired
        }

        EndHandover(reason, fenced: false, answered: false);
        _engine!.OnSecondaryLost(reason);
        RetireLink(reason);
    }

    /// <summary>
    /// The current link is closed, and attempts to reach the secondary again begin unless they run
    /// already, the node is fenced or stopping, or reconnection is off.
    /// </summary>
    private void RetireLink(string reason)
    {
        if (!_link.IsNone)
        {
            _actions.Close(_link, reason);
            _link = LinkId.None;
            _peerLeaseUntil = 0;
        }

        // Its page cache goes with it: the next welcome brings a fresh one.
        _pageEncoder = null;

        if (_reconnecting || _fenced is not null || _stopping || HandedOver || _options.ReconnectDelay == TimeSpan.Zero || _options.Unreplicated)
        {
            return;
        }

        _reconnecting = true;
        ScheduleAttempt();
    }

    /// <summary>The next attempt, after the current delay; the delay doubles for the one after.</summary>
    private void ScheduleAttempt()
    {
        if (!_reconnecting || _stopping || _fenced is not null)
        {
            return;
        }

        TimeSpan delay = _reconnectDelay < TimeSpan.Zero ? _options.ReconnectDelay : _reconnectDelay;
        _reconnectDelay = delay * 2 < _options.ReconnectMaxDelay ? delay * 2 : _options.ReconnectMaxDelay;
        int attempt = Interlocked.Increment(ref _reconnectAttempts);
        Log.Reconnecting(_log, _options.Peer, attempt, delay.TotalMilliseconds);
        _actions.ScheduleReconnect(delay);
    }

    /// <summary>The secondary will never follow this primary again: stay degraded, stop reconnecting.</summary>
    private void FenceOff(string reason)
    {
        if (_fenced is not null)
        {
            return;
        }

        Volatile.Write(ref _fenced, reason);
        _reconnecting = false;
        Log.Fenced(_log, reason);
        _actions.Fenced(reason);

        // Another node holds the pair's data now: what this one acknowledged from here on would be lost (I6).
        FailGuestWrites($"this primary was fenced: {reason}");
    }

    /// <summary>The resync is acknowledged: the next loss starts a fresh backoff.</summary>
    private void OnProtectedAgain()
    {
        // The secondary takes this generation with the epoch that completed the sync: it is shared now.
        _unprotectedGeneration = null;
        Volatile.Write(ref _reconnectAttempts, 0);
        _reconnectDelay = _options.ReconnectDelay;
    }
}
