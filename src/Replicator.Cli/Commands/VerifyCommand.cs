using System.Text.Json;
using System.Text.Json.Nodes;
using Replicator.Runtime.Control;

namespace Replicator.Cli.Commands;

/// <summary>
/// <c>replicator verify --state-dir DIR [--repair]</c>: asks the running primary to compare both
/// images and prints its report. Exit 0: equal (or every difference repaired); 3: they differ (or a
/// range could not be read); 1: no verdict (not protected, the link failed, no answer).
/// </summary>
internal static class VerifyCommand
{
    public const int Differ = 3;

    public static async Task<int> RunAsync(string stateDirectory, bool repair, TimeSpan wait, TextWriter output, TextWriter errors)
    {
        using var timeout = new CancellationTokenSource(wait);
        JsonNode? report;
        try
        {
            report = await ControlClient.SendAsync(stateDirectory, repair ? "verify --repair" : "verify", timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            await errors.WriteLineAsync($"replicator verify: no answer within {wait.TotalMilliseconds:F0} ms").ConfigureAwait(false);
            return 1;
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException or IOException)
        {
            await errors.WriteLineAsync($"replicator verify: {e.Message}").ConfigureAwait(false);
            return 1;
        }

        await output.WriteLineAsync(report?.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) ?? "{}").ConfigureAwait(false);
        bool equal = report?["Equal"]?.GetValue<bool>() ?? false;
        bool repaired = report?["Repaired"]?.GetValue<bool>() ?? false;
        return equal || (repaired && (report?["ReadsFailed"]?.GetValue<long>() ?? 1) == 0) ? 0 : Differ;
    }
}
