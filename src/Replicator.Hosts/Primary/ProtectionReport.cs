namespace Replicator.Hosts.Primary;

/// <summary>The pair's protection at one moment, and why when it is not protected.</summary>
public sealed record ProtectionReport(PairProtection State, string? Reason);
