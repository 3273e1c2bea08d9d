using Replicator.Hosts.Links;
using Replicator.Protocol.Witness;

namespace Replicator.Hosts.Witness;

/// <summary>What the witness's host asks of its shell (the daemon or the simulator). Calls only queue work.</summary>
public interface IWitnessHostActions
{
    /// <summary>Send the answer on the link; a link already closed drops it.</summary>
    void Answer(LinkId link, WitnessAnswerMessage answer);

    /// <summary>Close the link, after a last Error frame with <paramref name="reason"/>; the shell then reports <see cref="WitnessHost.OnLinkClosed"/>.</summary>
    void Close(LinkId link, string reason);
}
