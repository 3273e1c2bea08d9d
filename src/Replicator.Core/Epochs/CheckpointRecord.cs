using Replicator.Core.Vm;

namespace Replicator.Core.Epochs;

/// <summary>
/// Closes epoch <see cref="Epoch"/>: it holds exactly the sequence numbers
/// <see cref="FirstSequence"/>..<see cref="LastSequence"/> (empty when last is first - 1), whose
/// records sum to <see cref="Digest"/>, and the guest's VM state changes captured while the guest
/// was paused at the end of the epoch, whose hash is <see cref="SnapshotDigest"/>.
/// </summary>
public sealed record CheckpointRecord(long Epoch, long FirstSequence, long LastSequence, ulong Digest, VmSnapshot Snapshot, ulong SnapshotDigest)
{
    public long RecordCount => LastSequence - FirstSequence + 1;
}
