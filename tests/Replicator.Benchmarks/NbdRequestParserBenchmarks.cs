using BenchmarkDotNet.Attributes;
using Replicator.Nbd.Protocol;
using Replicator.Nbd.Server;

namespace Replicator.Benchmarks;

/// <summary>
/// What the NBD receive loop does with each 28-byte request header before the backend sees it:
/// parse it, then judge it against the export (flags, alignment, maximum, range).
/// </summary>
[MemoryDiagnoser]
public class NbdRequestParserBenchmarks
{
    private readonly byte[] _header = new byte[NbdRequest.Size];
    private readonly NbdRequestValidator _validator = new(1L << 30, 4 << 20, readOnly: false, new NegotiatedFeatures(StructuredReplies: true, AllocationContext: true));

    [GlobalSetup]
    public void Setup() =>
        new NbdRequest(NbdCommandFlags.Fua, NbdCommand.Write, 0x1122_3344_5566_7788, 1 << 20, 4096).Write(_header);

    [Benchmark]
    public bool ParseAndValidateWriteHeader()
    {
        if (!NbdRequest.TryRead(_header, out NbdRequest request, out _))
        {
            return false;
        }

        return _validator.Validate(request) == NbdError.None;
    }
}
