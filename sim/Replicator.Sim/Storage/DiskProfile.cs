namespace Replicator.Sim.Storage;

/// <summary>How fast one simulated disk is: per request, per byte, and per flush.</summary>
internal sealed record DiskProfile
{
    public long WriteUs { get; init; } = 20;

    public double UsPerKiB { get; init; } = 0.5;

    public long FlushUs { get; init; } = 150;

    /// <summary>Random extra time per request, up to this; requests in flight complete out of order.</summary>
    public long JitterUs { get; init; } = 20;
}
