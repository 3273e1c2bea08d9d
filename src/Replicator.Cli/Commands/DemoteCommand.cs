using Replicator.Hosts.Storage;
using Replicator.Runtime.Control;
using Replicator.Runtime.Storage;

namespace Replicator.Cli.Commands;

/// <summary>
/// <c>replicator demote --state-dir DIR</c>: a stopped node that took over by a failover or a
/// switchover follows, instead of taking over again, when it is next started with
/// <c>replicator secondary</c>. The daemon must be stopped: a running node's record is its own.
/// </summary>
internal static class DemoteCommand
{
    public static async Task<int> RunAsync(string stateDirectory, TextWriter output, TextWriter errors)
    {
        if (await ControlClient.IsNodeRunningAsync(stateDirectory).ConfigureAwait(false))
        {
            await errors.WriteLineAsync($"replicator demote: a node is running with state directory {stateDirectory}; stop it first (a running writer hands over with `replicator switchover`)").ConfigureAwait(false);
            return 1;
        }

        try
        {
            DemotionOutcome outcome = DataDemotion.Apply(new FileStorageDirectory(stateDirectory));
            await output.WriteLineAsync(outcome switch
            {
                DemotionOutcome.Demoted => $"demoted: started with `replicator secondary --state-dir {stateDirectory} ...` this node follows its peer as a former primary; what it wrote since it took over is copied back over from the peer (a split brain, if both wrote, is refused)",
                DemotionOutcome.AlreadyDemotable => "nothing changed: this node is the operator's primary, and `replicator secondary` on its state directory demotes it already",
                _ => "nothing changed: this node is a secondary already",
            }).ConfigureAwait(false);
            return 0;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            await errors.WriteLineAsync($"replicator demote: {e.Message}; nothing was changed").ConfigureAwait(false);
            return 1;
        }
    }
}
