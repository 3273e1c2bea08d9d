using Replicator.Core.Vm;
using BenchmarkDotNet.Attributes;
using Replicator.Qemu.Ram;

namespace Replicator.Benchmarks;

/// <summary>
/// The QEMU adapter's RAM diff on a 128 MiB guest: the RAM compared with its shadow, page by
/// page, at each vector width and with one thread or every core, with a few pages changed per
/// operation (the steady state of a checkpoint). <see cref="RamBandwidthBenchmarks"/> is what
/// the machine's memory allows for the same bytes.
/// </summary>
[MemoryDiagnoser]
public class RamDiffBenchmarks
{
    private const int RamBytes = 128 << 20;
    private const int PageSize = 4096;
    private const int PagesChangedPerCheckpoint = 150;

    // Page-aligned, as the mapped RAM file is: a misaligned array would split every 512-bit load
    // across two cache lines and measure that instead of the compare.
    private readonly byte[] _backing = GC.AllocateArray<byte>(RamBytes + PageSize, pinned: true);
    private Memory<byte> _ram;
    private readonly PagePool _pool = new(PageSize, 4096);
    private ShadowRam _shadow = null!;
    private int _round;

    [Params(VectorWidth.Scalar, VectorWidth.Vector128, VectorWidth.Vector256, VectorWidth.Vector512)]
    public VectorWidth Width { get; set; }

    /// <summary>Threads comparing: 1, or 0 for every core.</summary>
    [Params(1, 0)]
    public int Parallelism { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        long address = System.Runtime.InteropServices.GCHandle.Alloc(_backing, System.Runtime.InteropServices.GCHandleType.Pinned).AddrOfPinnedObject();
        int offset = (int)((PageSize - (address % PageSize)) % PageSize);
        _ram = _backing.AsMemory(offset, RamBytes);
        new Random(1).NextBytes(_ram.Span);
        _shadow = PageCompare.IsSupported(Width)
            ? new ShadowRam(RamBytes, PageSize, Parallelism, Width)
            : new ShadowRam(RamBytes, PageSize, Parallelism);
        _shadow.Capture(_ram.Span, CaptureScope.All, _pool);
    }

    [GlobalCleanup]
    public void Cleanup() => _shadow.Dispose();

    [Benchmark]
    public int DiffRam()
    {
        // Change a spread of pages, as a running guest would between two checkpoints.
        int round = ++_round;
        for (int i = 0; i < PagesChangedPerCheckpoint; i++)
        {
            _ram.Span[(((i * 7919) + round) % (RamBytes / PageSize) * PageSize) + (round % PageSize)] ^= 0x5a;
        }

        RamCapture capture = _shadow.Capture(_ram.Span, CaptureScope.Changes, _pool);
        foreach (Core.Vm.VmPage page in capture.Pages)
        {
            _pool.Return(page.Data);
        }

        return capture.Pages.Count;
    }
}
