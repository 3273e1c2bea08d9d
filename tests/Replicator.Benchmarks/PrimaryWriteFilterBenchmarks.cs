using BenchmarkDotNet.Attributes;
using Replicator.Benchmarks.Support;
using Replicator.Core.Blocks;
using Replicator.Core.Primary;
using Replicator.Core.Vm;

namespace Replicator.Benchmarks;

/// <summary>
/// The primary's write filter for one 4 KiB guest write: <see cref="PrimaryEngine.Submit"/>
/// (validate, sequence, credit, dirty map, overlap check, issue) and
/// <see cref="PrimaryEngine.OnLocalCompleted"/> (digest, mirror, complete), with no-op I/O.
/// <see cref="SubmitAndComplete4KiB"/> never closes the epoch (the buffer bound is set out of
/// reach), so it is the per-write cost alone; <see cref="EpochOf256Writes"/> adds the checkpoint
/// cycle every 256 writes (pause, capture of an empty VM state, checkpoint, acknowledgement,
/// credit returned), reported per write.
/// </summary>
[MemoryDiagnoser]
public class PrimaryWriteFilterBenchmarks
{
    private const int WriteBytes = 4096;
    private const int WritesPerEpoch = 256;
    private const long DiskBytes = 1L << 30;

    private readonly NoOpPrimaryActions _actions = new();
    private readonly ReadOnlyMemory<byte> _payload = new byte[WriteBytes];
    private PrimaryEngine _engine = null!;
    private long _requestId;

    [GlobalSetup]
    public void Setup() =>
        _engine = new PrimaryEngine(new PrimaryOptions
        {
            Geometry = new BlockGeometry(DiskBytes, 1 << 20),
            SecondaryBufferBytes = 1L << 50,
        }, _actions);

    [Benchmark]
    public long SubmitAndComplete4KiB() => Write();

    [Benchmark(OperationsPerInvoke = WritesPerEpoch)]
    public long EpochOf256Writes()
    {
        long id = 0;
        for (int i = 0; i < WritesPerEpoch; i++)
        {
            id = Write();
        }

        long epoch = _engine.RequestCheckpoint(CheckpointTrigger.Interval);
        _engine.OnVmCaptured(epoch, new VmSnapshot(epoch, [], []));
        _engine.OnCheckpointAcknowledged(epoch);
        _engine.OnCreditReturned(WritesPerEpoch * (WriteBytes + Core.Epochs.MirrorRecord.RecordOverheadBytes));
        return id;
    }

    private long Write()
    {
        long id = ++_requestId;
        long offset = id * WriteBytes % DiskBytes;
        if (_engine.Submit(id, BlockRequest.Write(offset, WriteBytes), _payload) is { } refused)
        {
            throw new InvalidOperationException(refused);
        }

        _engine.OnLocalCompleted(id, succeeded: true);
        return id;
    }
}
