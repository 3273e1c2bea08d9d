namespace Replicator.Hosts.Links;

/// <summary>
/// Lets one report through per interval and counts the ones held back, so that a flood of
/// strangers or broken peers cannot flood the log (or fill the disk under it). Timestamps come from
/// the host's <see cref="TimeProvider"/>; one loop calls it.
/// </summary>
public sealed class LogRateLimit(TimeProvider time, TimeSpan interval)
{
    private long _lastReported;
    private bool _reportedOnce;
    private int _heldBack;

    /// <summary>True when this event should be reported; then <paramref name="heldBack"/> says how many were not since the last report.</summary>
    public bool ShouldReport(out int heldBack)
    {
        long now = time.GetTimestamp();
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
