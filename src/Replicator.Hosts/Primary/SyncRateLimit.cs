namespace Replicator.Hosts.Primary;

/// <summary>
/// The sync's rate limit: a token bucket of bytes, granted in whole 4 KiB units, that accrues at the
/// rate on the host's own clock, so the simulator's virtual time drives it as the daemon's real time
/// does. Half a second of copying may burst; a bucket starts full.
/// <para>
/// Not System.Threading.RateLimiting's token bucket: even replenished by hand it measures the time
/// since its last refill on the machine's clock (tokens accrue in proportion to it), so a loaded
/// machine — or a test on a virtual clock — got more than the rate allowed.
/// </para>
/// </summary>
internal sealed class SyncRateLimit
{
    private const long GrantBytes = 4096;
    private static readonly TimeSpan Burst = TimeSpan.FromMilliseconds(500);

    private readonly TimeProvider _time;
    private readonly long _burstBytes;
    private long _availableBytes;
    private long _accruedAt;

    public SyncRateLimit(long bytesPerSecond, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytesPerSecond);
        BytesPerSecond = bytesPerSecond;
        _time = time;
        _burstBytes = Math.Max(GrantBytes, (long)(bytesPerSecond * Burst.TotalSeconds));
        _availableBytes = _burstBytes;
        _accruedAt = time.GetTimestamp();
    }

    public long BytesPerSecond { get; }

    /// <summary>The bytes the limit allows since the last call, in whole 4 KiB units: the bucket topped up for the time passed (up to the burst), then emptied.</summary>
    public long Take()
    {
        long now = _time.GetTimestamp();
        double seconds = (double)(now - _accruedAt) / _time.TimestampFrequency;
        _accruedAt = now;
        _availableBytes = (long)Math.Min(_burstBytes, _availableBytes + (seconds * BytesPerSecond));
        long granted = _availableBytes - (_availableBytes % GrantBytes);
        _availableBytes -= granted;
        return granted;
    }
}
