using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Vm;

namespace Replicator.Core.Tests.Support;

/// <summary>Builds records and checkpoints by hand, with digests computed the way the primary does.</summary>
internal static class Records
{
    public static readonly BlockGeometry Geometry = new(1 << 20, 64 * 1024);

    public static MirrorRecord Write(long epoch, long sequence, long offset, byte fill, int length = 4096, bool fua = false) =>
        new(epoch, sequence, BlockRequest.Write(offset, length, fua), Filled(length, fill));

    public static MirrorRecord Flush(long epoch, long sequence) => new(epoch, sequence, BlockRequest.Flush(), default);

    public static byte[] Filled(int length, byte fill)
    {
        byte[] bytes = new byte[length];
        Array.Fill(bytes, fill);
        return bytes;
    }

    public static VmSnapshot Snapshot(long epoch) => new(epoch, [(byte)epoch, 1, 2, 3], [new VmPage(0, Filled(4096, (byte)epoch))]);

    /// <summary>The checkpoint the primary would send for exactly these records.</summary>
    public static CheckpointRecord CheckpointFor(long epoch, long first, long last, params MirrorRecord[] records)
    {
        var digest = default(EpochDigest);
        foreach (MirrorRecord record in records)
        {
            digest.Add(record);
        }

        VmSnapshot snapshot = Snapshot(epoch);
        return new CheckpointRecord(epoch, first, last, digest.Value, snapshot, snapshot.ComputeDigest());
    }
}
