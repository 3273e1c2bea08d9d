using Replicator.Core.Primary;

namespace Replicator.Hosts.Primary;

/// <summary>The sync's rate limit, set at start (<see cref="PrimaryHostOptions.SyncBytesPerSecond"/>) and changed while it runs.</summary>
public sealed partial class PrimaryHost
{
    private SyncRateLimit? _syncRate;

    /// <summary>The sync's rate limit in bytes per second, or 0 when unlimited (any thread).</summary>
    public long SyncBytesPerSecond => Volatile.Read(ref _syncRate)?.BytesPerSecond ?? 0;

    /// <summary>Limits sync copies (resync, whole-image sync, repair) to <paramref name="bytesPerSecond"/> from now on; 0 lifts the limit.</summary>
    public void SetSyncRate(long bytesPerSecond)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytesPerSecond);
        Volatile.Write(ref _syncRate, bytesPerSecond > 0 ? new SyncRateLimit(bytesPerSecond, _time) : null);
        Log.SyncRateSet(_log, bytesPerSecond / 1e6);
        _engine?.SetResyncBudget(bytesPerSecond > 0 ? 0 : null);
    }

    /// <summary>On the shell's ticks: what the limit allows since the last one goes to a sync that is copying.</summary>
    private void FeedSyncBudget()
    {
        if (_syncRate is not { } limit || _engine is not { } engine)
        {
            return;
        }

        long granted = limit.Take();
        if (engine.Replication == PrimaryReplication.Resyncing || engine.IsRepairing)
        {
            engine.AddResyncBudget(granted);
        }
    }
}
