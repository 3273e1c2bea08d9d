using BenchmarkDotNet.Attributes;
using Replicator.Hosts.Storage;
using Replicator.Benchmarks.Support;
using Replicator.Core.Secondary;
using Replicator.Runtime.Storage;

namespace Replicator.Benchmarks;

/// <summary>
/// The secondary's commit point: <see cref="EpochJournal.Append"/> of a sealed epoch of 4 KiB
/// writes to a real file, ending in one fdatasync. The file lives under REPLICATOR_BENCH_DIR, or
/// the temp directory; the journal is emptied after each iteration. Disk-bound: the figure is the
/// disk's flush latency plus the copy, and varies with the machine far more than the others.
/// </summary>
[MemoryDiagnoser]
[InvocationCount(16, 1)]
public class EpochJournalBenchmarks
{
    private DirectoryInfo _directory = null!;
    private EpochJournal _journal = null!;
    private EpochLog _epoch = null!;

    /// <summary>Writes of 4 KiB per epoch: 16 (64 KiB) or 256 (1 MiB).</summary>
    [Params(16, 256)]
    public int RecordsPerEpoch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = BenchDirectory.Create("replicator-journal-bench");
        _journal = EpochJournal.Open(new FileStorageDirectory(_directory.FullName), out _, appliedEpoch: 0, salt: 1);
        _epoch = SyntheticEpochs.SealedEpoch(4096, RecordsPerEpoch);
    }

    [Benchmark]
    public long AppendEpoch()
    {
        _journal.Append(_epoch);
        return _journal.Length;
    }

    [IterationCleanup]
    public void EmptyJournal() => _journal.Release(_epoch.Epoch);

    [GlobalCleanup]
    public void Cleanup()
    {
        _journal.Dispose();
        _directory.Delete(recursive: true);
    }
}
