using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using Replicator.Nbd.Protocol;

namespace Replicator.Nbd.Server;

/// <summary>The payload of a BLOCK_STATUS chunk: the <c>base:allocation</c> context id, then one (length, flags) pair per extent.</summary>
internal static class BlockStatusReply
{
    /// <summary>
    /// Writes the payload for <paramref name="extents"/>, checking what the backend gave: at least
    /// one extent, as many as it said, each non-empty, together no longer than the request.
    /// </summary>
    public static bool TryWrite(ReadOnlySpan<NbdExtent> extents, int count, uint requested, Span<byte> payload, [NotNullWhen(false)] out string? problem)
    {
        if (count < 1 || count != extents.Length)
        {
            problem = $"{count} extents, where 1..{extents.Length} fit";
            return false;
        }

        BinaryPrimitives.WriteUInt32BigEndian(payload, NegotiatedFeatures.AllocationContextId);
        long covered = 0;
        for (int i = 0; i < extents.Length; i++)
        {
            NbdExtent extent = extents[i];
            covered += extent.Length;
            if (extent.Length <= 0 || covered > requested)
            {
                problem = $"extent {i} of {extent.Length} bytes ends {covered} bytes in, past the {requested} asked for or empty";
                return false;
            }

            BinaryPrimitives.WriteUInt32BigEndian(payload[(4 + (8 * i))..], (uint)extent.Length);
            BinaryPrimitives.WriteUInt32BigEndian(payload[(8 + (8 * i))..], (uint)extent.State);
        }

        problem = null;
        return true;
    }
}
