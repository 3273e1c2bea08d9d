using Replicator.Hosts.Links;
using Replicator.Hosts.Secondary;
using Replicator.Protocol.Witness;

namespace Replicator.Sim.Nodes;

/// <summary>The witness's link, heard by the incarnation that opened it.</summary>
internal sealed partial class SecondaryShell : IWitnessClient
{
    public void OnWitnessConnected(int incarnation, LinkId link)
    {
        if (_pause.IsPaused)
        {
            _pause.Run(() => OnWitnessConnected(incarnation, link));
        }
        else if (IsCurrent(incarnation))
        {
            Host.OnWitnessConnected(link);
        }
    }

    public void OnWitnessConnectFailed(int incarnation, string reason)
    {
        if (_pause.IsPaused)
        {
            _pause.Run(() => OnWitnessConnectFailed(incarnation, reason));
        }
        else if (IsCurrent(incarnation))
        {
            Host.OnWitnessConnectFailed(reason);
        }
    }

    public void OnWitnessAnswer(int incarnation, LinkId link, WitnessAnswerMessage answer)
    {
        if (_pause.IsPaused)
        {
            _pause.Run(() => OnWitnessAnswer(incarnation, link, answer));
        }
        else if (IsCurrent(incarnation))
        {
            Host.OnInput(link, new SecondaryInput(SecondaryInputKind.WitnessAnswer, WitnessAnswer: answer));
        }
    }

    public void OnWitnessClosed(int incarnation, LinkId link, string reason)
    {
        if (_pause.IsPaused)
        {
            _pause.Run(() => OnWitnessClosed(incarnation, link, reason));
        }
        else if (IsCurrent(incarnation))
        {
            Host.OnLinkClosed(link, reason);
        }
    }

    private bool IsCurrent(int incarnation) => !Down && incarnation == _incarnation;
}
