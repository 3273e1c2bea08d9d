namespace Replicator.Hosts.Primary;

/// <summary>What the primary can honestly say about the guest's protection right now (see <see cref="PrimaryHost.Protection"/>).</summary>
public enum PairProtection
{
    /// <summary>Not running yet, or the first handshake is under way.</summary>
    Starting,

    /// <summary>Every checkpoint taken was acknowledged, or is younger than the acknowledgement bound.</summary>
    Protected,

    /// <summary>A checkpoint has waited longer than the acknowledgement bound: the secondary is connected but not committing.</summary>
    Stalled,

    /// <summary>Guest writes wait for credit: the secondary's buffer is full and nothing frees it.</summary>
    CreditExhausted,

    /// <summary>A new link is copying what the secondary lacks; not protected until it is acknowledged.</summary>
    Resyncing,

    /// <summary>No secondary: writes are local only.</summary>
    Degraded,

    /// <summary>Replication is off by configuration.</summary>
    Unreplicated,
}
