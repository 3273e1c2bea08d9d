using BenchmarkDotNet.Attributes;
using Replicator.Benchmarks.Support;
using Replicator.Core.Secondary;

namespace Replicator.Benchmarks;

/// <summary>
/// The secondary buffering one mirrored 4 KiB write into an open epoch
/// (<see cref="SecondaryEngine.OnMirror"/>): checks, digest, append to the epoch's log. Each
/// iteration fills 1024 epochs of 256 writes (1 MiB each, as a 25 ms epoch of a busy guest would):
/// long enough that the hashing code is promoted to optimized (tier-1) code during warm-up.
/// Closing, journalling and applying them happens after the iteration, untimed (see
/// <see cref="SecondaryEpochApplyBenchmarks"/> for that part).
/// </summary>
[MemoryDiagnoser]
[InvocationCount(RecordsPerEpoch * EpochsPerIteration, 1)]
public class SecondaryBufferingBenchmarks
{
    private const int RecordsPerEpoch = 256;
    private const int EpochsPerIteration = 1024;

    private readonly SyntheticEpochs _records = new(4096);
    private readonly NoOpSecondaryActions _actions = new();
    private SecondaryEngine _engine = null!;
    private long _firstOpenEpoch;
    private long _epoch;
    private long _epochFirstSequence;
    private long _sequence;

    [GlobalSetup]
    public void Setup()
    {
        _engine = SyntheticEpochs.NewSecondary(_actions, EpochsPerIteration + 2);
        _firstOpenEpoch = _epoch = 1;
        _epochFirstSequence = _sequence = 1;
    }

    [Benchmark]
    public MirrorOutcome BufferMirroredWrite4KiB()
    {
        MirrorOutcome outcome = _engine.OnMirror(_records.Write(_epoch, _sequence++));
        if (_sequence - _epochFirstSequence == RecordsPerEpoch)
        {
            _epoch++;
            _epochFirstSequence = _sequence;
        }

        return outcome;
    }

    /// <summary>Closes, journals and applies what the iteration buffered, so every iteration starts from an empty buffer.</summary>
    [IterationCleanup]
    public void CommitBufferedEpochs()
    {
        long sequence = _engine.LastCommittedSequence + 1;
        for (long epoch = _firstOpenEpoch; epoch <= _epoch; epoch++)
        {
            long last = epoch < _epoch ? sequence + RecordsPerEpoch - 1 : _sequence - 1;
            if (last >= sequence)
            {
                _engine.OnCheckpoint(_records.Checkpoint(epoch, sequence, last));
                _actions.Complete(_engine);
            }

            sequence = last + 1;
        }

        // The next iteration starts a fresh epoch after the last one closed here.
        _epoch = _engine.LastAppliedEpoch + 1;
        _firstOpenEpoch = _epoch;
        _epochFirstSequence = _sequence;
        if (_engine.BufferedBytes != 0)
        {
            throw new InvalidOperationException($"{_engine.BufferedBytes} bytes still buffered after the iteration's epochs were applied");
        }
    }
}
