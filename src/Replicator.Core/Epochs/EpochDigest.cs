using System.Buffers.Binary;
using System.IO.Hashing;
using Replicator.Core.Blocks;

namespace Replicator.Core.Epochs;

/// <summary>
/// The digest that closes an epoch: the sum (mod 2^64) of one hash per record, each hash binding
/// the record's epoch, sequence number, request and payload.
/// </summary>
/// <remarks>
/// A sum rather than a chained hash because the primary mirrors a write when its local write
/// completes, which is not sequence order, and the secondary receives records in any order: both
/// sides fold each record in as it passes, with no second pass over the data. Order is still
/// bound, since every record's hash includes its sequence number; duplicates are caught by
/// sequence number before they reach the digest.
/// </remarks>
public struct EpochDigest
{
    private ulong _sum;

    public readonly ulong Value => _sum;

    public void Add(in MirrorRecord record) => AddHash(RecordHash(record));

    /// <summary>Adds a record by its <see cref="RecordHash"/>, computed already.</summary>
    public void AddHash(ulong recordHash) => _sum = unchecked(_sum + recordHash);

    public void Reset() => _sum = 0;

    public static ulong RecordHash(in MirrorRecord record)
    {
        Span<byte> header = stackalloc byte[32];
        BinaryPrimitives.WriteInt64LittleEndian(header, record.Epoch);
        BinaryPrimitives.WriteInt64LittleEndian(header[8..], record.Sequence);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], record.Request.Offset);
        BinaryPrimitives.WriteInt32LittleEndian(header[24..], record.Request.Length);
        header[28] = (byte)record.Request.Op;
        header[29] = record.Request.Fua ? (byte)1 : (byte)0;
        ulong headerHash = XxHash3.HashToUInt64(header);
        return record.Request.Op is BlockOp.Write or BlockOp.Verify
            ? XxHash3.HashToUInt64(record.Payload.Span, unchecked((long)headerHash))
            : headerHash;
    }
}
