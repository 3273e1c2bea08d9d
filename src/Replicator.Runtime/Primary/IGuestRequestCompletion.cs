using Replicator.Core.Blocks;

namespace Replicator.Runtime.Primary;

/// <summary>
/// Where a guest request's outcome goes (<see cref="PrimaryNode.Submit"/>): called once, on the
/// primary's loop, in completion order, so an implementation must not block. The NBD export's is
/// pooled (no allocation per request); the synthetic guest's models its disk in that order.
/// </summary>
public interface IGuestRequestCompletion
{
    void Complete(RequestStatus status);
}
