namespace Replicator.Core.Primary;

/// <summary>What happens to held guest output when the secondary is lost.</summary>
public enum DegradedOutputPolicy
{
    /// <summary>
    /// Release it, marked unprotected, and keep the service running without a replica (Remus's
    /// choice): availability over protection, reported through <see cref="IPrimaryActions.SecondaryDegraded"/>.
    /// </summary>
    ReleaseUnprotected,

    /// <summary>Hold it until an operator decides: no output ever leaves unprotected.</summary>
    Hold,
}
