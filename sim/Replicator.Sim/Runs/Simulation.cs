using Replicator.Sim.World;

namespace Replicator.Sim.Runs;

/// <summary>Runs one scenario in a fresh world.</summary>
internal static class Simulation
{
    public static RunResult Run(Scenario scenario, bool keepTrace = false)
    {
        try
        {
            // Whole copies of the guest's past states only serve a readable trace ("first differs at
            // byte ..."); a batch compares hashes and spares the large copies.
            Scenario run = scenario with { Guest = scenario.Guest with { RetainedCheckpoints = keepTrace ? 4 : 0 } };
            return new SimWorld(run, keepTrace).Run() with { Scenario = scenario };
        }
        catch (Exception e)
        {
            // Whatever throws (a core engine refusing what the world did, or a fault in the world
            // itself) is a finding like any violation, reported with its seed rather than ending the batch.
            return new RunResult(scenario, [$"the run threw: {e.GetType().Name}: {e.Message}"], 0, 0, 0, 0, [], e.ToString());
        }
    }
}
