using System.Net;

namespace Replicator.Runtime.Secondary;

/// <summary>What a secondary node needs to run. Validated by <see cref="Validate"/> before anything opens.</summary>
public sealed record SecondaryNodeOptions
{
    public required string ImagePath { get; init; }

    public required string StateDirectory { get; init; }

    public required IPEndPoint Listen { get; init; }

    public required string PairId { get; init; }

    public int BlockSize { get; init; } = 4096;

    public int MaxRequestBytes { get; init; } = 1 << 20;

    /// <summary>The credit window (<see cref="Hosts.Secondary.SecondaryHostOptions.BufferCapacityBytes"/>).</summary>
    public long BufferCapacityBytes { get; init; } = 64L << 20;

    /// <summary>Committed bytes that may wait in RAM for the write-back with their credit returned.</summary>
    public long WritebackCapacityBytes { get; init; } = 256L << 20;

    public long RamBytes { get; init; } = 16L << 20;

    public int PageSize { get; init; } = 4096;

    /// <summary>How checkpoint pages cross the link (see <see cref="Hosts.Secondary.SecondaryHostOptions.PageTerms"/>).</summary>
    public Protocol.Pages.PageTerms PageTerms { get; init; } = Protocol.Pages.PageTerms.Default;

    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan HeartbeatTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The pair key the link is authenticated and encrypted with; null only with <see cref="InsecureLink"/>.</summary>
    public Links.LinkKey? LinkKey { get; init; }

    /// <summary>Run the link as plain TCP: anyone who reaches <see cref="Listen"/> can write into the replica. Never the default.</summary>
    public bool InsecureLink { get; init; }

    /// <summary>Connections accepted but not yet through their TLS handshake, at most; more are closed at once.</summary>
    public int MaxPendingLinks { get; init; } = 8;

    /// <summary>How long a new connection has to complete its TLS handshake.</summary>
    public TimeSpan LinkHandshakeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Fail over at start from the last checkpoint that verifies, discarding what a damaged journal holds beyond it (see <see cref="Hosts.Secondary.SecondaryHostOptions.FailoverDiscardingUnverifiable"/>).</summary>
    public bool FailoverDiscardingUnverifiable { get; init; }

    /// <summary>Promote when the primary's heartbeats stop, instead of waiting for an operator.</summary>
    public bool AutoFailover { get; init; }

    /// <summary>The pair's witness (<c>--witness</c>): automatic failover then needs its vote.</summary>
    public IPEndPoint? Witness { get; init; }

    /// <summary>Run before an automatic promotion with the old primary's identity (<c>--fence-command</c>); without a witness the promotion waits for its success.</summary>
    public string? FenceCommand { get; init; }

    /// <summary>How long the fence command may run before it counts as failed (<c>--fence-timeout-ms</c>).</summary>
    public TimeSpan FenceTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Keep a buffer the size of the guest's RAM, touched at start, for the VM state a promotion
    /// resumes a real guest from (a daemon with <c>--vm</c>): the first touch of 128 MiB cost
    /// ~0.5 s of the failover's path here; paid at start it costs the guest's RAM in memory.
    /// </summary>
    public bool KeepsVmStateBuffer { get; init; }

    /// <summary>Every problem with the options, or an empty list.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        NodeOptionChecks.Common(problems, ImagePath, PairId, BlockSize, MaxRequestBytes, RamBytes, PageSize, HeartbeatInterval, HeartbeatTimeout);
        NodeOptionChecks.Link(problems, LinkKey, InsecureLink);
        if (MaxPendingLinks < 1)
        {
            problems.Add($"at most {MaxPendingLinks} pending links: at least 1 is needed");
        }

        if (LinkHandshakeTimeout <= TimeSpan.Zero)
        {
            problems.Add($"link handshake timeout {LinkHandshakeTimeout.TotalMilliseconds} ms must be positive");
        }

        if (BufferCapacityBytes < 4L * MaxRequestBytes)
        {
            problems.Add($"buffer bound {BufferCapacityBytes} must hold at least four of the largest requests ({4L * MaxRequestBytes} bytes)");
        }

        if (AutoFailover && Witness is null && string.IsNullOrWhiteSpace(FenceCommand))
        {
            problems.Add("--auto-failover needs --witness HOST:PORT or --fence-command CMD: without either, a partition between the two nodes makes two writers (the primary goes on alone while this node promotes itself)");
        }

        if (FenceCommand is not null && string.IsNullOrWhiteSpace(FenceCommand))
        {
            problems.Add("--fence-command is empty");
        }

        if (FenceTimeout <= TimeSpan.Zero)
        {
            problems.Add($"--fence-timeout-ms {FenceTimeout.TotalMilliseconds} must be positive");
        }

        if (WritebackCapacityBytes < 0)
        {
            problems.Add($"write-back bound {WritebackCapacityBytes} must not be negative");
        }

        return problems;
    }
}
