using System.Globalization;
using Replicator.Core.Primary;

namespace Replicator.Hosts.Primary;

/// <summary>The latest sync's progress: started with its plan, sampled on every heartbeat tick, closed when the pair is protected.</summary>
public sealed partial class PrimaryHost
{
    private SyncProgress? _sync;
    private long _syncStartedAt;

    /// <summary>The latest sync, running or completed, or null before the first (any thread: one reference, replaced whole on the loop).</summary>
    public SyncProgress? Sync => Volatile.Read(ref _sync);

    private void NoteSyncStarted(ResyncPlan plan)
    {
        _syncStartedAt = _time.GetTimestamp();
        Volatile.Write(ref _sync, new SyncProgress(plan.WholeImage, plan.Bytes, 0, TimeSpan.Zero, Completed: false));
    }

    /// <summary>On each heartbeat tick: how much of the running sync has been read and sent.</summary>
    private void SampleSync()
    {
        if (_sync is { Completed: false } running && _engine is { Replication: PrimaryReplication.Resyncing } engine)
        {
            Volatile.Write(ref _sync, running with { CopiedBytes = running.TotalBytes - engine.ResyncBytesLeft, Elapsed = _time.GetElapsedTime(_syncStartedAt), FoundEqualBytes = engine.ChecksumBytesFoundEqual });
        }
    }

    private void NoteSyncCompleted(long epoch)
    {
        if (_sync is not { Completed: false } running)
        {
            return;
        }

        SyncProgress done = running with { CopiedBytes = running.TotalBytes, Elapsed = _time.GetElapsedTime(_syncStartedAt), Completed = true, FoundEqualBytes = _engine!.ChecksumBytesFoundEqual };
        Volatile.Write(ref _sync, done);
        if (done.FoundEqualBytes > 0)
        {
            Log.FoundEqual(_log, done.FoundEqualBytes, done.TotalBytes - done.FoundEqualBytes);
        }

        Log.SyncCompleted(_log, done.WholeImage ? "full sync" : "resync", epoch, done.TotalBytes, done.Elapsed.TotalSeconds, string.Create(CultureInfo.InvariantCulture, $"{done.BytesPerSecond / 1e6:F1}"));
    }
}
