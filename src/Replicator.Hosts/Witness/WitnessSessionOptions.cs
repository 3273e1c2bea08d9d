namespace Replicator.Hosts.Witness;

/// <summary>How a node keeps in touch with its witness.</summary>
public sealed record WitnessSessionOptions
{
    /// <summary>The witness as operators name it (its address).</summary>
    public required string Address { get; init; }

    public required string PairId { get; init; }

    /// <summary>
    /// How long a granted lease lets a primary acknowledge guest writes, counted from when it asked.
    /// Shorter than the secondary's promotion timeout (its heartbeat timeout), so a paused primary
    /// wakes with its lease already gone.
    /// </summary>
    public TimeSpan Lease { get; init; } = TimeSpan.FromMilliseconds(1500);

    /// <summary>A witness that answers nothing for this long is disconnected and reached again; a connect fails after it.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The wait between attempts to reach the witness.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    public int ProtocolVersion { get; init; } = Protocol.Messages.Handshake.ProtocolVersion;
}
