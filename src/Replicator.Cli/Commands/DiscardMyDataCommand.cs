using Replicator.Hosts.Storage;
using Replicator.Runtime.Control;
using Replicator.Runtime.Storage;

namespace Replicator.Cli.Commands;

/// <summary>
/// <c>replicator discard-my-data --state-dir DIR</c>: resolves a split brain (or an unrelated image)
/// in favour of the other node. The daemon must be stopped: a running node's record is its own.
/// </summary>
internal static class DiscardMyDataCommand
{
    public static async Task<int> RunAsync(string stateDirectory, TextWriter output, TextWriter errors)
    {
        if (await ControlClient.IsNodeRunningAsync(stateDirectory).ConfigureAwait(false))
        {
            errors.WriteLine($"replicator discard-my-data: a node is running with state directory {stateDirectory}; stop it first (its data is discarded only while it is down)");
            return 1;
        }

        try
        {
            DiscardReport report = DataDiscard.Apply(new FileStorageDirectory(stateDirectory), DateTimeOffset.UtcNow);
            output.WriteLine($"discarded {report.Discarded} (this node was a {report.FormerRole.ToString().ToLowerInvariant()}); it is now a blank secondary: start it with `replicator secondary --state-dir {stateDirectory} ...` and the primary copies its whole image over this one"
                + (report.JournalKeptAs is null ? string.Empty : $"; its journal was kept, unreplayed, as {report.JournalKeptAs}"));
            return 0;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            errors.WriteLine($"replicator discard-my-data: {e.Message}; nothing was changed");
            return 1;
        }
    }
}
