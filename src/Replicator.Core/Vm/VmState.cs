namespace Replicator.Core.Vm;

/// <summary>
/// A whole VM state (RAM and vCPU) as of one checkpoint, rebuilt by applying snapshots in epoch
/// order. The secondary keeps one; failover hands it to the guest that takes over.
/// </summary>
public sealed class VmState
{
    private readonly byte[] _ram;

    public VmState(long ramBytes, int pageSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pageSize);
        if (ramBytes < 0 || ramBytes % pageSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ramBytes), ramBytes, "RAM size must be a multiple of the page size");
        }

        _ram = new byte[ramBytes];
        PageSize = pageSize;
    }

    /// <summary>The checkpoint this state belongs to; 0 before the first snapshot.</summary>
    public long Epoch { get; private set; }

    public int PageSize { get; }

    public byte[] CpuState { get; private set; } = [];

    public ReadOnlySpan<byte> Ram => _ram;

    public long PageCount => _ram.Length / PageSize;

    /// <summary>Applies the next checkpoint's changes; snapshots must come in epoch order.</summary>
    public void Apply(VmSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        if (snapshot.Epoch <= Epoch)
        {
            throw new InvalidOperationException($"snapshot of epoch {snapshot.Epoch} applied onto state of epoch {Epoch}");
        }

        foreach (VmPage page in snapshot.Pages)
        {
            if (page.Index < 0 || page.Index >= PageCount || page.Data.Length != PageSize)
            {
                throw new ArgumentException($"page {page.Index} ({page.Data.Length} bytes) does not fit a {PageCount}-page RAM of {PageSize}-byte pages", nameof(snapshot));
            }

            page.Data.CopyTo(_ram.AsSpan(checked((int)(page.Index * PageSize))));
        }

        CpuState = snapshot.CpuState.ToArray();
        Epoch = snapshot.Epoch;
    }

    public VmState Clone()
    {
        var copy = new VmState(_ram.Length, PageSize) { Epoch = Epoch, CpuState = CpuState.ToArray() };
        _ram.CopyTo(copy._ram, 0);
        return copy;
    }
}
