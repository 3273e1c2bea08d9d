using System.Threading.RateLimiting;

namespace Replicator.Hosts.Primary;

/// <summary>
/// The sync's rate limit: a token bucket (System.Threading.RateLimiting) of 4 KiB permits, refilled
/// by the host from its own clock — never by a timer of the library's — so the simulator's virtual
/// time drives it as the daemon's real time does. Half a second of copying may burst.
/// </summary>
internal sealed class SyncRateLimit : IDisposable
{
    private const int PermitBytes = 4096;
    private const int MaxPeriodsPerTake = 20;
    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(50);

    private readonly TokenBucketRateLimiter _bucket;
    private readonly TimeProvider _time;
    private long _replenishedAt;

    public SyncRateLimit(long bytesPerSecond, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytesPerSecond);
        BytesPerSecond = bytesPerSecond;
        _time = time;
        _replenishedAt = time.GetTimestamp();
        int perPeriod = (int)Math.Clamp(bytesPerSecond * Period.TotalSeconds / PermitBytes, 1, int.MaxValue / MaxPeriodsPerTake);
        _bucket = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = perPeriod * (int)(TimeSpan.FromMilliseconds(500) / Period),
            TokensPerPeriod = perPeriod,
            ReplenishmentPeriod = Period,
            AutoReplenishment = false,
            QueueLimit = 0,
        });
    }

    public long BytesPerSecond { get; }

    /// <summary>The bytes the limit allows since the last call: the bucket refilled for the time passed, then emptied.</summary>
    public long Take()
    {
        TimeSpan elapsed = _time.GetElapsedTime(_replenishedAt);
        long periods = (long)(elapsed / Period);
        for (long i = 0; i < Math.Min(periods, MaxPeriodsPerTake); i++)
        {
            _bucket.TryReplenish();
        }

        // Whole periods only; a long gap refills the bucket once, not time and again.
        _replenishedAt = periods > MaxPeriodsPerTake ? _time.GetTimestamp() : _replenishedAt + (long)(periods * Period.TotalSeconds * _time.TimestampFrequency);
        long available = _bucket.GetStatistics()?.CurrentAvailablePermits ?? 0;
        if (available <= 0)
        {
            return 0;
        }

        using RateLimitLease lease = _bucket.AttemptAcquire((int)available);
        return lease.IsAcquired ? available * PermitBytes : 0;
    }

    public void Dispose() => _bucket.Dispose();
}
