namespace Replicator.Sim.Storage;

/// <summary>
/// One host's power, as its storage sees it: armed to cut after a number of storage calls, so a
/// power cut lands between any two steps of the real storage code (inside a journal append, a
/// compaction, a state record's replacement). Once off, every call throws until the host restarts.
/// </summary>
internal sealed class SimPowerSwitch
{
    private int _callsLeft = -1;

    public bool IsOff { get; private set; }

    /// <summary>Cut the power at the <paramref name="calls"/>-th storage call from now (1: the next).</summary>
    public void ArmAfter(int calls) => _callsLeft = calls;

    public void Disarm() => _callsLeft = -1;

    /// <summary>Called before each storage call: throws when the power is (now) off.</summary>
    public void BeforeCall()
    {
        if (!IsOff && _callsLeft > 0 && --_callsLeft == 0)
        {
            IsOff = true;
            _callsLeft = -1;
        }

        if (IsOff)
        {
            throw new SimPowerCutException();
        }
    }

    /// <summary>The host is cut off now (a power cut at a random time, or the switch tripped).</summary>
    public void TurnOff()
    {
        IsOff = true;
        _callsLeft = -1;
    }

    /// <summary>Power is back (a restart): nothing armed before survives it.</summary>
    public void TurnOn()
    {
        IsOff = false;
        _callsLeft = -1;
    }
}

/// <summary>The host lost power in the middle of a storage call: nothing of the process survives.</summary>
internal sealed class SimPowerCutException() : Exception("the simulated host lost power");
