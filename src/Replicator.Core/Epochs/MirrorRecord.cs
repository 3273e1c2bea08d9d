using Replicator.Core.Blocks;

namespace Replicator.Core.Epochs;

/// <summary>
/// One guest request as the primary mirrors it: its place in the epoch's order (epoch and
/// sequence number), the request and, for a write, the bytes the primary's disk holds.
/// </summary>
/// <remarks>
/// Sequence numbers are global and increase by one per admitted request; epoch e holds exactly
/// the numbers its checkpoint names (first..last). Overlapping writes never run at once on the
/// primary, so applying an epoch in sequence order reproduces the primary's disk.
/// </remarks>
public readonly record struct MirrorRecord(long Epoch, long Sequence, BlockRequest Request, ReadOnlyMemory<byte> Payload)
{
    /// <summary>What the record costs in the secondary's bounded buffer: its payload plus bookkeeping.</summary>
    public long BufferCost => Request.PayloadLength + RecordOverheadBytes;

    /// <summary>Charged per record so that many tiny requests are bounded too.</summary>
    public const int RecordOverheadBytes = 64;
}
