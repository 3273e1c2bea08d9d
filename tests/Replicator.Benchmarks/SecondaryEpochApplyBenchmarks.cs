using BenchmarkDotNet.Attributes;
using Replicator.Benchmarks.Support;
using Replicator.Core.Epochs;
using Replicator.Core.Secondary;

namespace Replicator.Benchmarks;

/// <summary>
/// The secondary committing one epoch whose writes are all buffered: the checkpoint arrives, the
/// epoch is verified and sealed, the journal write is asked for and reported durable, the epoch
/// is acknowledged, its writes, flush and VM snapshot are applied, the state record reported
/// durable and the buffer released — all through <see cref="SecondaryEngine"/> with no-op I/O,
/// so this is the engine's own cost per epoch. The writes are buffered before each iteration,
/// untimed.
/// </summary>
[MemoryDiagnoser]
[InvocationCount(EpochsPerIteration, 1)]
public class SecondaryEpochApplyBenchmarks
{
    private const int EpochsPerIteration = 512;

    private readonly SyntheticEpochs _records = new(4096);
    private readonly NoOpSecondaryActions _actions = new();
    private readonly CheckpointRecord[] _checkpoints = new CheckpointRecord[EpochsPerIteration];
    private SecondaryEngine _engine = null!;
    private int _next;
    private int _ready;

    /// <summary>Writes of 4 KiB per epoch: 16 (64 KiB) or 256 (1 MiB).</summary>
    [Params(16, 256)]
    public int RecordsPerEpoch { get; set; }

    [GlobalSetup]
    public void Setup() => _engine = SyntheticEpochs.NewSecondary(_actions, EpochsPerIteration + 2);

    /// <summary>Buffers the iteration's epochs (their writes only) and builds their checkpoints.</summary>
    [IterationSetup]
    public void BufferEpochs()
    {
        long epoch = _engine.LastAppliedEpoch + 1;
        long sequence = _engine.LastCommittedSequence + 1;
        for (int i = 0; i < EpochsPerIteration; i++, epoch++)
        {
            long first = sequence;
            for (int r = 0; r < RecordsPerEpoch; r++)
            {
                _engine.OnMirror(_records.Write(epoch, sequence++));
            }

            _checkpoints[i] = _records.Checkpoint(epoch, first, sequence - 1);
        }

        _next = 0;
        _ready = EpochsPerIteration;
    }

    [Benchmark]
    public long SealPersistApplyEpoch()
    {
        _engine.OnCheckpoint(_checkpoints[_next++]);
        _actions.Complete(_engine);
        return _engine.LastAppliedEpoch;
    }

    /// <summary>Commits what an iteration with fewer invocations (the jitting one) left buffered.</summary>
    [IterationCleanup]
    public void CommitLeftovers()
    {
        while (_next < _ready)
        {
            SealPersistApplyEpoch();
        }
    }
}
