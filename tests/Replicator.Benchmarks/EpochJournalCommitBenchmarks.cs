using BenchmarkDotNet.Attributes;
using Replicator.Benchmarks.Support;
using Replicator.Core.Secondary;
using Replicator.Hosts.Storage;
using Replicator.Runtime.Storage;
using Replicator.Testing;

namespace Replicator.Benchmarks;

/// <summary>
/// What a commit costs once the epoch's records were written ahead (<see cref="EpochJournal.Stage"/>,
/// done in the iteration's setup, untimed) against one that writes the whole epoch
/// (<see cref="EpochJournal.Append"/> alone), to a real file under REPLICATOR_BENCH_DIR or the temp
/// directory. Each commit comes an epoch (<see cref="EpochMs"/>, untimed) after the setup; records
/// written ahead wait in the page cache meanwhile, or are on their way to the disk, their write-out
/// started as they went (the journal before that change did not). One commit per iteration, since
/// each needs its own setup: many iterations instead. Disk-bound like <see cref="EpochJournalBenchmarks"/>.
/// </summary>
[MemoryDiagnoser]
[InvocationCount(1, 1)]
[IterationCount(40)]
public class EpochJournalCommitBenchmarks
{
    /// <summary>How long after its setup each commit comes: an epoch's length.</summary>
    private const int EpochMs = 25;

    private DirectoryInfo _directory = null!;
    private EpochJournal _journal = null!;
    private EpochLog _epoch = null!;

    /// <summary>How the epoch's records reach the journal before its commit.</summary>
    public enum Ahead
    {
        /// <summary>Not at all: the commit writes the whole epoch.</summary>
        Nothing,

        /// <summary>Written ahead, left in the page cache for the commit's flush.</summary>
        Written,

        /// <summary>Written ahead, each write's write-out to disk started as it went.</summary>
        WrittenAndStartedOut,
    }

    /// <summary>Writes of 64 KiB per epoch: 16 (1 MiB) or 256 (16 MiB).</summary>
    [Params(16, 256)]
    public int RecordsPerEpoch { get; set; }

    [Params(Ahead.Nothing, Ahead.Written, Ahead.WrittenAndStartedOut)]
    public Ahead RecordsAhead { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = BenchDirectory.Create("replicator-journal-commit-bench");
        var files = new FileStorageDirectory(_directory.FullName);
        _journal = EpochJournal.Open(RecordsAhead == Ahead.WrittenAndStartedOut ? files : new WriteOutInterceptingDirectory(files, writeOut: null), out _, appliedEpoch: 0, salt: 1);
        _epoch = SyntheticEpochs.SealedEpoch(64 * 1024, RecordsPerEpoch);
    }

    [IterationSetup]
    public void EmptyJournalAndWriteAhead()
    {
        _journal.Release(_epoch.Epoch);
        if (RecordsAhead != Ahead.Nothing)
        {
            foreach (BufferedRecord held in _epoch.Records)
            {
                _journal.Stage(_epoch.Incarnation, held.Record, held.Hash);
            }
        }

        // The rest of the epoch, for every case alike (a disk left idle is slower to answer): the
        // guest runs on while records written ahead are on their way. Real time on purpose: what is
        // measured is how much of the write-out the disk itself finished meanwhile, which no fake
        // clock can advance. This is an untimed iteration setup of a benchmark, never a test.
        Thread.Sleep(EpochMs);
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
