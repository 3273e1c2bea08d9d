namespace Replicator.Runtime.Secondary;

/// <summary>What <c>replicator status</c> shows for a secondary.</summary>
public sealed record SecondaryStatus(string Phase, long LastCommittedEpoch, long LastAppliedEpoch, long BufferedBytes, long BufferCapacityBytes, string Link);
