using Replicator.Hosts.Links;
using Replicator.Protocol.Framing;

namespace Replicator.Hosts.Secondary;

/// <summary>
/// What the secondary's host asks of its shell. Calls only queue work: never block, and never call
/// back into the host from inside a call, so each event is handled to the end before the next.
/// </summary>
public interface ISecondaryHostActions
{
    /// <summary>Send a control message on the link.</summary>
    void Send<T>(LinkId link, FrameType type, T message);

    /// <summary>
    /// Close the link, first telling the peer why (an Error frame; <paramref name="fenced"/> when this
    /// node will never follow it again). The shell then reports <see cref="SecondaryHost.OnLinkClosed"/>.
    /// </summary>
    void Close(LinkId link, string reason, bool fenced = false);

    /// <summary>
    /// Run the operation on its queue after every earlier one of that queue, with
    /// <see cref="SecondaryStorageWorker.Run"/>, and hand the completion to <see cref="SecondaryHost.OnStorageCompleted"/>.
    /// </summary>
    void RunStorage(in SecondaryStorageOperation operation);

    /// <summary>
    /// The promotion is durable: the node serves checkpoint <paramref name="epoch"/> from now on —
    /// the image with <see cref="SecondaryHost.Takeover"/> laid over it while the committed epochs
    /// still drain into it (<see cref="SecondaryHost.TakeoverDrained"/> says when the image alone holds it).
    /// </summary>
    void Promoted(long epoch);

    /// <summary>Open a connection to the witness; report <see cref="SecondaryHost.OnWitnessConnected"/>, or <see cref="SecondaryHost.OnWitnessConnectFailed"/> after <paramref name="timeout"/> at the latest. Asked only of a secondary with a witness.</summary>
    void ConnectWitness(TimeSpan timeout);

    /// <summary>Run the operator's fence command; report <see cref="SecondaryHost.OnFenceCompleted"/>. Asked only of a secondary with one.</summary>
    void RunFence(FenceRequest request);

    /// <summary>
    /// The operator's failover that went to the witness was refused (the primary's lease still runs,
    /// the witness lost or superseded this node): the operator's command fails with the reason.
    /// </summary>
    void PromotionRefused(string reason);

    /// <summary>The node must not go on (storage failed under a committed epoch); the daemon exits with the reason.</summary>
    void Halt(string reason);
}
