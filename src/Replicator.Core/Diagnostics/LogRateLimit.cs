namespace Replicator.Core.Diagnostics;

/// <summary>
/// Lets one report through per interval and counts the ones held back, so that a flood of refused
/// connections, strangers, slow handshakes or accept failures cannot flood the log (or fill the
/// disk under it). The one implementation for the hosts, the daemons and the NBD server. Safe to
/// call from many threads at once (an NBD server's connections do); time is only read as
/// timestamps of the injected <see cref="TimeProvider"/>, so tests and the simulator control it.
/// </summary>
public sealed class LogRateLimit(TimeProvider time, TimeSpan interval)
{
    /// <summary>The interval every rate-limited line uses unless configured otherwise.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private readonly object _gate = new();
    private long _lastReported;
    private bool _reportedOnce;
    private int _heldBack;

    /// <summary>True when this event should be reported; then <paramref name="heldBack"/> says how many were not since the last report.</summary>
    public bool ShouldReport(out int heldBack)
    {
        long now = time.GetTimestamp();
        lock (_gate)
        {
            if (_reportedOnce && time.GetElapsedTime(_lastReported, now) < interval)
            {
                _heldBack++;
                heldBack = 0;
                return false;
            }

            heldBack = _heldBack;
            _heldBack = 0;
            _lastReported = now;
            _reportedOnce = true;
            return true;
        }
    }
}
