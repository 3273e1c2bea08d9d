using Replicator.Core.Epochs;
using Replicator.Sim.Faults;
using Replicator.Sim.World;

namespace Replicator.Sim.Storage;

/// <summary>
/// The secondary's commit journal on its own simulated disk: an entry is appended, then flushed;
/// it is durable once that flush completes. After a power cut the journal holds its durable
/// entries and perhaps some later ones (a sequential file with a volatile cache, cut at the first
/// torn entry, as the real journal's checksums cut it). Applied entries are dropped (compaction).
/// </summary>
internal sealed class SimJournal(SimScheduler clock, DiskProfile profile, DiskFaults faults, Random random)
{
    private readonly List<Entry> _entries = new();
    private int _generation;
    private long _busyUntil;
    private bool _failed;

    public IReadOnlyList<(CheckpointRecord Checkpoint, IReadOnlyList<MirrorRecord> Records)> Entries =>
        _entries.Select(e => (e.Checkpoint, (IReadOnlyList<MirrorRecord>)e.Records)).ToList();

    /// <summary>The newest epoch whose entry is durable.</summary>
    public long DurableEpoch { get; private set; }

    public long Failures { get; private set; }

    /// <summary>An append failed: nothing more lands until the node restarts.</summary>
    public bool HasFailed => _failed;

    public void Append(CheckpointRecord checkpoint, List<MirrorRecord> records, long bytes, Action<bool> done)
    {
        long now = clock.Now;
        // One append at a time, as the journal worker does; after a failure nothing more lands.
        bool fails = _failed || faults.Fails(DiskId.SecondaryJournal, DiskFailure.Write, now)
            || faults.Fails(DiskId.SecondaryJournal, DiskFailure.Flush, now)
            || faults.IsFull(DiskId.SecondaryJournal, now);
        long latency = profile.WriteUs + (long)(bytes / 1024.0 * profile.UsPerKiB) + profile.FlushUs
            + random.NextInt64(profile.JitterUs + 1) + faults.ExtraLatency(DiskId.SecondaryJournal, now);
        var entry = new Entry(checkpoint, records);
        _failed |= fails;
        long start = Math.Max(now, _busyUntil);
        _busyUntil = start + latency;
        if (!fails)
        {
            // Written at once into the cache; durable only when the flush behind it completes.
            _entries.Add(entry);
        }

        int generation = _generation;
        clock.At(_busyUntil, () =>
        {
            if (generation != _generation)
            {
                return;
            }

            if (fails)
            {
                Failures++;
                done(false);
                return;
            }

            entry.Durable = true;
            DurableEpoch = Math.Max(DurableEpoch, checkpoint.Epoch);
            done(true);
        });
    }

    /// <summary>The state record says the image holds this epoch: older entries are no longer needed.</summary>
    public void Compact(long appliedEpoch) => _entries.RemoveAll(e => e.Durable && e.Checkpoint.Epoch <= appliedEpoch);

    /// <summary>Recovery reads the journal and syncs it before trusting it: whatever it read is durable from here on.</summary>
    public void SyncOnRecovery()
    {
        foreach (Entry e in _entries)
        {
            e.Durable = true;
            DurableEpoch = Math.Max(DurableEpoch, e.Checkpoint.Epoch);
        }
    }

    /// <summary>The process died: appends in flight are forgotten, the file (in the OS cache) is kept.</summary>
    public void AbandonInFlight() => Restart();

    public void PowerCut(Random cut)
    {
        Restart();
        int keep = _entries.FindLastIndex(e => e.Durable) + 1;
        while (keep < _entries.Count && cut.NextDouble() < 0.5)
        {
            keep++;
        }

        _entries.RemoveRange(keep, _entries.Count - keep);
        foreach (Entry e in _entries)
        {
            e.Durable = true;
        }

        DurableEpoch = _entries.Count > 0 ? Math.Max(DurableEpoch, _entries[^1].Checkpoint.Epoch) : DurableEpoch;
    }

    private void Restart()
    {
        _generation++;
        _failed = false;
        _busyUntil = 0;
    }

    private sealed class Entry(CheckpointRecord checkpoint, List<MirrorRecord> records)
    {
        public CheckpointRecord Checkpoint { get; } = checkpoint;

        public List<MirrorRecord> Records { get; } = records;

        public bool Durable { get; set; }
    }
}
