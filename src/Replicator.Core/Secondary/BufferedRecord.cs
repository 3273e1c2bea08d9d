using Replicator.Core.Epochs;

namespace Replicator.Core.Secondary;

/// <summary>
/// A record held in the secondary's buffer, with the owner of its pooled payload memory and its
/// <see cref="EpochDigest.RecordHash"/>, computed once as it arrived: the epoch digest sums it, a
/// repeated sequence number is compared by it, and the journal's entry checksum takes it in place of
/// the payload, so the secondary reads each payload's bytes for hashing once.
/// </summary>
public readonly record struct BufferedRecord(MirrorRecord Record, IDisposable? PayloadOwner, ulong Hash);
