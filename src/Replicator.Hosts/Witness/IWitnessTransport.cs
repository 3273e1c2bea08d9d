using Replicator.Hosts.Links;
using Replicator.Protocol.Witness;

namespace Replicator.Hosts.Witness;

/// <summary>How a node's <see cref="WitnessSession"/> reaches the witness: its host passes these on to its shell.</summary>
public interface IWitnessTransport
{
    /// <summary>Open a connection to the witness; the host then hears it connected, or failed within <paramref name="timeout"/>.</summary>
    void ConnectWitness(TimeSpan timeout);

    /// <summary>Send a request on the witness's link.</summary>
    void SendToWitness(LinkId link, WitnessRequestMessage request);

    /// <summary>Close the witness's link; the host then hears it closed.</summary>
    void CloseWitness(LinkId link, string reason);
}
