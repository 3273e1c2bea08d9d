using IPEndPoint = System.Net.IPEndPoint;

namespace Replicator.Runtime.Witness;

/// <summary>What a witness needs to run. Validated by <see cref="Validate"/> before anything opens.</summary>
public sealed record WitnessNodeOptions
{
    public required IPEndPoint Listen { get; init; }

    public required string StateDirectory { get; init; }

    /// <summary>The pair key both nodes hold; null only with <see cref="InsecureLink"/>.</summary>
    public Links.LinkKey? LinkKey { get; init; }

    public bool InsecureLink { get; init; }

    /// <summary>The longest lease granted, and how long a (re)started witness waits before it votes (<c>--max-lease-ms</c>).</summary>
    public TimeSpan MaxLease { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Pairs the witness keeps records for (<c>--max-pairs</c>).</summary>
    public int MaxPairs { get; init; } = 64;

    /// <summary>Connections open at once, those still proving the key included (<c>--max-connections</c>); one more is closed at accept.</summary>
    public int MaxConnections { get; init; } = 64;

    /// <summary>A connection that asks nothing this long is closed (<c>--idle-timeout-ms</c>).</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a new connection has to complete its TLS handshake.</summary>
    public TimeSpan LinkHandshakeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often idle connections are looked for.</summary>
    public TimeSpan TickInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(StateDirectory))
        {
            problems.Add("--state-dir DIR is required");
        }

        NodeOptionChecks.Link(problems, LinkKey, InsecureLink);
        if (MaxLease < TimeSpan.FromMilliseconds(1) || MaxLease > TimeSpan.FromMinutes(10))
        {
            problems.Add($"--max-lease-ms {MaxLease.TotalMilliseconds} must be 1..600000");
        }

        if (MaxPairs is < 1 or > 100_000)
        {
            problems.Add($"--max-pairs {MaxPairs} must be 1..100000");
        }

        if (MaxConnections is < 2 or > 100_000)
        {
            problems.Add($"--max-connections {MaxConnections} must be 2..100000 (each pair needs two)");
        }

        if (IdleTimeout <= TimeSpan.Zero)
        {
            problems.Add($"--idle-timeout-ms {IdleTimeout.TotalMilliseconds} must be positive");
        }

        return problems;
    }
}
