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

    /// <summary>I6 without a witness: a promotion nobody asked for (auto-failover) follows a fence that succeeded.</summary>
    private void CheckFencedBeforeAutomaticPromotion()
    {
        if (_world.Scenario.FenceUs > 0 && Host.PromotedBy == Hosts.Diagnostics.PromotionTrigger.Automatic && !_fenceSucceeded)
        {
            _world.Checker.Fail("I6: the secondary promoted itself without the fence command having succeeded: the old primary may still be writing");
        }
    }

    // The fence command powered the primary off: only then may an automatic promotion begin.
    private bool _fenceSucceeded;

    /// <summary>
    /// The fence command the host asked for: after the scenario's fence time the primary's host is
    /// powered off (a STONITH device), or the command fails.
    /// </summary>
    private void RunFence(int incarnation)
    {
        _world.Clock.After(_world.Scenario.FenceUs, () => _pause.Run(() =>
        {
            if (!IsCurrent(incarnation))
            {
                return;
            }

            if (_world.Random.Faults.NextDouble() < _world.Scenario.FenceFailureRate)
            {
                _world.Trace.Event("fence failed");
                Host.OnFenceCompleted(succeeded: false, "the fence device did not answer (simulated)");
                return;
            }

            _world.Primary.Crash(processKilled: false);
            _world.Trace.Event("fenced the primary");
            _fenceSucceeded = true;
            Host.OnFenceCompleted(succeeded: true, "the primary's host was powered off (simulated)");
        }));
    }
}
