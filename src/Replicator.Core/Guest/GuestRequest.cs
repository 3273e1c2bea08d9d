using Replicator.Core.Blocks;

namespace Replicator.Core.Guest;

/// <summary>A request the synthetic guest issues, with its payload (empty unless it is a write).</summary>
public readonly record struct GuestRequest(long Id, BlockRequest Request, byte[] Payload);
