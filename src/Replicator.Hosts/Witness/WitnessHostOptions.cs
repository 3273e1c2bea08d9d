namespace Replicator.Hosts.Witness;

/// <summary>What the witness decides with: its bounds and its timings.</summary>
public sealed record WitnessHostOptions
{
    /// <summary>
    /// The longest lease a primary may ask for. A witness that starts (or restarts) votes for no
    /// promotion until this much has passed: it cannot know of a lease granted before it stopped.
    /// </summary>
    public TimeSpan MaxLease { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A connection silent this long (no request) is closed: nodes ask at every heartbeat.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Pairs the witness keeps records for; a new pair beyond it is refused.</summary>
    public int MaxPairs { get; init; } = 64;

    /// <summary>
    /// Allowance for clocks that run at different rates: a lease of L is held here for L times this
    /// from the moment the request was read, while the primary counts on it for L from when it sent it.
    /// </summary>
    public double ClockRateAllowance { get; init; } = 1.1;

    /// <summary>
    /// Where the host's instruments go (<see cref="WitnessMetrics"/>): the shell's meter, which it
    /// disposes with the node; null (the simulator, most tests) measures nothing.
    /// </summary>
    public System.Diagnostics.Metrics.Meter? Meter { get; init; }

    /// <summary>The protocol version requests must carry.</summary>
    public int ProtocolVersion { get; init; } = Protocol.Messages.Handshake.ProtocolVersion;
}
