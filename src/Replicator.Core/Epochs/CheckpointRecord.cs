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

    /// <summary>
    /// The first epoch after a resync start: it follows the secondary's last committed epoch with a
    /// jump in epoch and sequence numbers that the resync start announced. Kept in the journal, so
    /// a replay after a crash accepts the jump too.
    /// </summary>
    public bool StartsResync { get; init; }

    /// <summary>
    /// A resync is still copying regions when this epoch closes: once it is applied the secondary's
    /// image is no checkpoint of the primary (some regions are newer, some older), so it must not
    /// be promoted from it. The epoch that completes the resync carries false.
    /// </summary>
    public bool ResyncPending { get; init; }

    /// <summary>
    /// The checkpoint's bytes as they crossed the link, when its pages came as they are and the
    /// receiver kept them (its pages lie in them): the journal stores these rather than encoding the
    /// pages again. Empty for a checkpoint made or decoded any other way.
    /// </summary>
    public ReadOnlyMemory<byte> WireForm { get; init; }
}
