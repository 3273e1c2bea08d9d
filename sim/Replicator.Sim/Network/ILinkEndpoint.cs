using Replicator.Protocol.Framing;

namespace Replicator.Sim.Network;

/// <summary>A node's side of a simulated connection: whole frames in, and the news that it closed.</summary>
internal interface ILinkEndpoint
{
    /// <summary>False while the node is crashed or powered off: nothing reaches it.</summary>
    bool IsReachable { get; }

    void OnFrame(SimConnection connection, in Frame frame);

    void OnClosed(SimConnection connection, string reason);
}
