namespace Replicator.Sim.Nodes;

/// <summary>The pair every simulated run protects: both hosts are configured with it.</summary>
internal static class SimIdentity
{
    public const string PairId = "simulated-pair";

    public const int BlockSize = 4096;
}
