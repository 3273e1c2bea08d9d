namespace Replicator.Sim.Network;

/// <summary>How the simulated network between the two hosts behaves in one run.</summary>
internal sealed record NetworkProfile
{
    /// <summary>
    /// Stream: one ordered, reliable byte stream per direction (TCP, as the daemons use): loss and
    /// duplication cost retransmission time, and a frame may arrive in pieces. Datagram: every frame
    /// arrives whole and exactly once but in any order, which exercises the core's tolerance of
    /// reordered records and checkpoints (a multi-path transport would need it).
    /// </summary>
    public LinkMode Mode { get; init; }

    public long LatencyUs { get; init; } = 50;

    public long JitterUs { get; init; } = 10;

    /// <summary>Link speed in bytes per microsecond (1 = 1 MB/s).</summary>
    public double BytesPerUs { get; init; } = 1000;

    /// <summary>Chance that a packet is lost and must be retransmitted (it arrives one retransmission timeout later).</summary>
    public double LossRate { get; init; }

    /// <summary>Chance that a packet arrives twice; the transport discards the copy.</summary>
    public double DuplicateRate { get; init; }

    /// <summary>Chance per frame that a byte flips on the way in a way the transport does not notice: the frame checksum must.</summary>
    public double CorruptionRate { get; init; }

    public long RetransmitTimeoutUs => 2 * LatencyUs + JitterUs + 200;
}

internal enum LinkMode
{
    Stream,
    Datagram,
}
