using BenchmarkDotNet.Attributes;
using Replicator.Benchmarks.Support;
using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Hosts.Storage;
using Replicator.Runtime.Storage;

namespace Replicator.Benchmarks;

/// <summary>
/// The secondary's hashing and journal work per arriving record, without the flush: each record's
/// <see cref="EpochDigest.RecordHash"/> (what the engine computes as it buffers it, for the epoch
/// digest) and its write ahead into the journal (<see cref="EpochJournal.Stage"/>) — the page cache
/// of a real file under REPLICATOR_BENCH_DIR or the temp directory. An epoch of 256 records per
/// operation, begun anew each time (a new incarnation over the same bytes), so the file keeps its size.
/// </summary>
[MemoryDiagnoser]
public class JournalWriteAheadBenchmarks
{
    private const int RecordsPerEpoch = 256;

    private DirectoryInfo _directory = null!;
    private EpochJournal _journal = null!;
    private MirrorRecord[] _records = null!;
    private long _incarnation;

    /// <summary>The size of each write.</summary>
    [Params(4 * 1024, 64 * 1024)]
    public int RecordBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = BenchDirectory.Create("replicator-journal-write-ahead-bench");
        _journal = EpochJournal.Open(new FileStorageDirectory(_directory.FullName), out _, appliedEpoch: 0, salt: 1);
        _records = SyntheticEpochs.SealedEpoch(RecordBytes, RecordsPerEpoch).Records.ToArray().Select(held => held.Record).ToArray();
    }

    [Benchmark(OperationsPerInvoke = RecordsPerEpoch)]
    public int HashAndWriteAhead()
    {
        long incarnation = ++_incarnation;
        int staged = 0;
        foreach (MirrorRecord record in _records)
        {
            ulong hash = EpochDigest.RecordHash(record);
            staged += _journal.Stage(incarnation, record, hash) ? 1 : 0;
        }

        return staged;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _journal.Dispose();
        _directory.Delete(recursive: true);
    }
}
