namespace Replicator.Hosts.Primary;

/// <summary>Why a primary may acknowledge guest writes now, or why not: its status.</summary>
public enum PrimaryQuorum
{
    /// <summary>No witness configured: the two-node rules apply (failover is the operator's, or a fence command's).</summary>
    NotRequired,

    /// <summary>The secondary follows this generation, and its lease runs.</summary>
    Peer,

    /// <summary>The witness's lease for this generation runs (the secondary may follow too).</summary>
    Witness,

    /// <summary>Neither: guest requests are held (or failed) until a majority is back.</summary>
    Lost,

    /// <summary>The witness gave the pair's data to another node: this one never acknowledges a write again.</summary>
    Superseded,
}
