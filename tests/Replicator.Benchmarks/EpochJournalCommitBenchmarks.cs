using BenchmarkDotNet.Attributes;
using Replicator.Benchmarks.Support;
using Replicator.Core.Secondary;
using Replicator.Hosts.Storage;
using Replicator.Runtime.Storage;

namespace Replicator.Benchmarks;

/// <summary>
/// What a commit costs once the epoch's records were written ahead (<see cref="EpochJournal.Stage"/>,
/// done in the iteration's setup, untimed) against one that writes the whole epoch
/// (<see cref="EpochJournal.Append"/> alone), to a real file under REPLICATOR_BENCH_DIR or the temp
/// directory. One commit per iteration, since each needs its own setup: many iterations instead.
/// Disk-bound like <see cref="EpochJournalBenchmarks"/>.
/// </summary>
[MemoryDiagnoser]
[InvocationCount(1, 1)]
[IterationCount(40)]
public class EpochJournalCommitBenchmarks
{
    private DirectoryInfo _directory = null!;
    private EpochJournal _journal = null!;
    private EpochLog _epoch = null!;

    /// <summary>Writes of 64 KiB per epoch: 16 (1 MiB) or 256 (16 MiB).</summary>
    [Params(16, 256)]
    public int RecordsPerEpoch { get; set; }

    /// <summary>Whether the epoch's records were written ahead of the commit.</summary>
    [Params(false, true)]
    public bool WrittenAhead { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = BenchDirectory.Create("replicator-journal-commit-bench");
        _journal = EpochJournal.Open(new FileStorageDirectory(_directory.FullName), out _, appliedEpoch: 0, salt: 1);
        _epoch = SyntheticEpochs.SealedEpoch(64 * 1024, RecordsPerEpoch);
    }

    [IterationSetup]
    public void EmptyJournalAndWriteAhead()
    {
        _journal.Release(_epoch.Epoch);
        if (WrittenAhead)
        {
            foreach (BufferedRecord held in _epoch.Records)
            {
                _journal.Stage(_epoch.Incarnation, held.Record, held.Hash);
            }
        }
    }

    [Benchmark]
    public long Commit()
    {
        _journal.Append(_epoch);
        return _journal.Length;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _journal.Dispose();
        _directory.Delete(recursive: true);
    }
}
