using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Vm;

namespace Replicator.Benchmarks.Support;

/// <summary>
/// Mirrored 4 KiB-style writes as a primary would send them, derived from their sequence number
/// alone (the offset cycles over the disk), so a checkpoint for any run of them can be rebuilt
/// later with the right digest.
/// </summary>
internal sealed class SyntheticEpochs
{
    public const long DiskBytes = 1L << 30;

    private readonly ReadOnlyMemory<byte> _payload;

    public SyntheticEpochs(int recordBytes)
    {
        byte[] payload = new byte[recordBytes];
        new Random(42).NextBytes(payload);
        _payload = payload;
    }

    public int RecordBytes => _payload.Length;

    /// <summary>A secondary engine whose buffer bound and open-epoch limit never get in the way.</summary>
    public static SecondaryEngine NewSecondary(ISecondaryActions actions, int maxOpenEpochs) =>
        new(new SecondaryOptions
        {
            Geometry = new BlockGeometry(DiskBytes, 1 << 20),
            BufferCapacityBytes = 1L << 40,
            MaxOpenEpochs = maxOpenEpochs,
        }, actions);

    /// <summary>
    /// Epoch 1 of <paramref name="records"/> writes of <paramref name="recordBytes"/>, sealed by an
    /// engine and held as it hands it to the journal (never reported persisted, so never released).
    /// </summary>
    public static EpochLog SealedEpoch(int recordBytes, int records)
    {
        var writes = new SyntheticEpochs(recordBytes);
        var actions = new NoOpSecondaryActions { ReportPersisted = false };
        SecondaryEngine engine = NewSecondary(actions, 4);
        for (long sequence = 1; sequence <= records; sequence++)
        {
            engine.OnMirror(writes.Write(1, sequence));
        }

        engine.OnCheckpoint(writes.Checkpoint(1, 1, records));
        return actions.LastPersistRequest ?? throw new InvalidOperationException("the epoch was not sealed");
    }

    public MirrorRecord Write(long epoch, long sequence) =>
        new(epoch, sequence, BlockRequest.Write(sequence * RecordBytes % DiskBytes, RecordBytes), _payload);

    /// <summary>The checkpoint closing <paramref name="epoch"/> = the writes <paramref name="first"/>..<paramref name="last"/>, with no VM state.</summary>
    public CheckpointRecord Checkpoint(long epoch, long first, long last)
    {
        var digest = default(EpochDigest);
        for (long sequence = first; sequence <= last; sequence++)
        {
            digest.Add(Write(epoch, sequence));
        }

        var snapshot = new VmSnapshot(epoch, [], []);
        return new CheckpointRecord(epoch, first, last, digest.Value, snapshot, snapshot.ComputeDigest());
    }
}
