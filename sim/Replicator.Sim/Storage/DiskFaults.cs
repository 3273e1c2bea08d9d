using Replicator.Sim.Faults;

namespace Replicator.Sim.Storage;

/// <summary>The windows of injected disk trouble: I/O errors by kind, a full disk, latency spikes.</summary>
internal sealed class DiskFaults(Random random)
{
    private readonly List<(DiskId Disk, DiskFailure Kind, long From, long Until)> _errors = new();
    private readonly List<(DiskId Disk, long From, long Until)> _full = new();
    private readonly List<(DiskId Disk, long From, long Until)> _slow = new();

    public void Errors(DiskId disk, DiskFailure kind, long from, long until) => _errors.Add((disk, kind, from, until));

    public void Full(DiskId disk, long from, long until) => _full.Add((disk, from, until));

    public void Slow(DiskId disk, long from, long until) => _slow.Add((disk, from, until));

    /// <summary>Whether a request of this kind, issued now, fails. Inside an error window half of them do.</summary>
    public bool Fails(DiskId disk, DiskFailure kind, long now)
    {
        foreach (var e in _errors)
        {
            if (e.Disk == disk && e.Kind == kind && now >= e.From && now < e.Until && random.NextDouble() < 0.5)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A full disk refuses every write that needs new space.</summary>
    public bool IsFull(DiskId disk, long now) => _full.Exists(f => f.Disk == disk && now >= f.From && now < f.Until);

    public long ExtraLatency(DiskId disk, long now) => _slow.Exists(s => s.Disk == disk && now >= s.From && now < s.Until) ? 5_000 : 0;
}
