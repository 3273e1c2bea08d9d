namespace Replicator.Core.Vm;

/// <summary>
/// A whole VM state (RAM and vCPU) as of one checkpoint, rebuilt by applying snapshots in epoch
/// order. The secondary keeps one; failover hands it to the guest that takes over.
/// </summary>
public sealed class VmState
{
    private readonly byte[] _ram;

    private VmState(byte[] ram, int pageSize, long epoch, byte[] cpuState)
    {
        _ram = ram;
        PageSize = pageSize;
        Epoch = epoch;
        CpuState = cpuState;
    }

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

            page.Data.Span.CopyTo(_ram.AsSpan(checked((int)(page.Index * PageSize))));
        }

        CpuState = snapshot.CpuState.ToArray();
        Epoch = snapshot.Epoch;
    }

    /// <summary>
    /// The state of checkpoint <paramref name="epoch"/> from a whole RAM image, which the state
    /// takes as its own (no copy: a node taking over builds it on the failover's path).
    /// </summary>
    public static VmState FromImage(long epoch, byte[] cpuState, byte[] ram, int pageSize)
    {
        ArgumentNullException.ThrowIfNull(cpuState);
        ArgumentNullException.ThrowIfNull(ram);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pageSize);
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        if (ram.Length % pageSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ram), ram.Length, "RAM size must be a multiple of the page size");
        }

        return new VmState(ram, pageSize, epoch, cpuState);
    }

    public VmState Clone()
    {
        var copy = new VmState(_ram.Length, PageSize) { Epoch = Epoch, CpuState = CpuState.ToArray() };
        _ram.CopyTo(copy._ram, 0);
        return copy;
    }
}
