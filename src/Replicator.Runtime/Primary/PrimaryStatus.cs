namespace Replicator.Runtime.Primary;

/// <summary>What <c>replicator status</c> shows for a primary.</summary>
public sealed record PrimaryStatus(string Phase, long CurrentEpoch, long LastAcknowledgedEpoch, int UnacknowledgedCheckpoints, int InFlight, int Queued, long CreditAvailable, string Link, string? Degraded);
