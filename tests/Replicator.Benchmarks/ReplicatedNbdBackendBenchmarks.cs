using Replicator.Benchmarks.Support;
using System.Net;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using Replicator.Runtime.Guest;
using Replicator.Runtime.Primary;
using Replicator.Runtime.Storage;

namespace Replicator.Benchmarks;

/// <summary>
/// The primary's request path under the NBD server: <see cref="ReplicatedNbdBackend.WriteAsync"/>
/// of one 4 KiB write through a running primary node (unreplicated, so no secondary is needed):
/// submit, the node's loop, the engine, the local write to the image (page cache), completion back
/// on the loop, and the awaiting caller resumed. The image lives under REPLICATOR_BENCH_DIR, or the
/// temp directory. What it allocates per write is what the "0 bytes per write" is about.
/// </summary>
[MemoryDiagnoser]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet owns the lifetime: the node is disposed in [GlobalCleanup], not by a Dispose it would never call.")]
public class ReplicatedNbdBackendBenchmarks
{
    private const int ImageBytes = 64 << 20;
    private const int WriteBytes = 4096;

    private DirectoryInfo _directory = null!;
    private PrimaryNode _node = null!;
    private ReplicatedNbdBackend _backend = null!;
    private readonly byte[] _payload = new byte[WriteBytes];
    private long _offset;

    [GlobalSetup]
    public void Setup()
    {
        _directory = BenchDirectory.Create("replicator-nbd-backend-bench");
        string image = Path.Combine(_directory.FullName, "disk.img");
        ImageFile.Create(image, ImageBytes).Dispose();
        Random.Shared.NextBytes(_payload);
        _node = new PrimaryNode(
            new PrimaryNodeOptions
            {
                ImagePath = image,
                StateDirectory = Path.Combine(_directory.FullName, "state"),
                Peer = new IPEndPoint(IPAddress.Loopback, 0),
                Unreplicated = true,
                PairId = "bench",
            },
            new DiskOnlyVirtualMachine(),
            NullLogger<PrimaryNode>.Instance,
            TimeProvider.System);
        _node.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        _backend = new ReplicatedNbdBackend(_node, 1 << 20);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _node.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _directory.Delete(recursive: true);
    }

    [Benchmark]
    public ValueTask Write4KiB()
    {
        long offset = _offset;
        _offset = (_offset + WriteBytes) % ImageBytes;
        return _backend.WriteAsync(offset, _payload, fua: false, CancellationToken.None);
    }
}
