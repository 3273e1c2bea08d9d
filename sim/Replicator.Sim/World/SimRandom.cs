namespace Replicator.Sim.World;

/// <summary>The run's random sources, one per component, all split from the one seed.</summary>
internal sealed class SimRandom(long seed)
{
    public Random Guest { get; } = SeedSplitter.For(seed, "guest-timing");

    public Random Network { get; } = SeedSplitter.For(seed, "network");

    public Random PrimaryDisk { get; } = SeedSplitter.For(seed, "primary-disk");

    public Random SecondaryDisk { get; } = SeedSplitter.For(seed, "secondary-disk");

    public Random Journal { get; } = SeedSplitter.For(seed, "journal");

    public Random DiskFaults { get; } = SeedSplitter.For(seed, "disk-faults");

    public Random PowerCuts { get; } = SeedSplitter.For(seed, "power-cuts");

    public Random Faults { get; } = SeedSplitter.For(seed, "fault-timing");

    /// <summary>Whether an operator's restart after a crash follows a lost host (power) or a killed process.</summary>
    public Random PrimaryPower { get; } = SeedSplitter.For(seed, "primary-power");
}
