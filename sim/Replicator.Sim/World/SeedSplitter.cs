namespace Replicator.Sim.World;

/// <summary>
/// One seed for the whole run, split into an independent random source per component, so that a
/// change in how one component draws does not shift every other component's draws.
/// </summary>
internal static class SeedSplitter
{
    public static Random For(long seed, string component) => new(DeriveSeed(seed, component));

    public static int DeriveSeed(long seed, string component)
    {
        ulong x = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL);
        foreach (char c in component)
        {
            x = Mix(x ^ c);
        }

        return (int)(Mix(x) & 0x7FFF_FFFF);
    }

    // SplitMix64's finaliser: every input bit moves every output bit.
    private static ulong Mix(ulong z)
    {
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }
}
