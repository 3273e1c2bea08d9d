using BenchmarkDotNet.Attributes;

namespace Replicator.Benchmarks;

/// <summary>
/// The floor for <see cref="RamDiffBenchmarks"/>: 128 MiB compared with an equal copy by the
/// runtime's own vectorised <c>SequenceEqual</c> (one thread, reads both), and copied (<c>CopyTo</c>).
/// </summary>
public class RamBandwidthBenchmarks
{
    private const int RamBytes = 128 << 20;
    private readonly byte[] _ram = new byte[RamBytes];
    private readonly byte[] _copy = new byte[RamBytes];

    [GlobalSetup]
    public void Setup()
    {
        new Random(1).NextBytes(_ram);
        _ram.CopyTo(_copy, 0);
    }

    [Benchmark]
    public bool SequenceEqual() => _ram.AsSpan().SequenceEqual(_copy);

    [Benchmark]
    public void Copy() => _ram.AsSpan().CopyTo(_copy);
}
