using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Replicator.Runtime.Control;

namespace Replicator.Cli.Commands;

/// <summary><c>replicator checkpoint|failover|status --state-dir DIR [--timeout MS] [--json]</c>: talks to a running node.</summary>
internal static class ControlCommand
{
    public static async Task<int> RunAsync(string command, string stateDirectory, bool json, TimeSpan wait)
    {
        using var timeout = new CancellationTokenSource(wait);
        try
        {
            JsonNode? result = await ControlClient.SendAsync(stateDirectory, command, timeout.Token).ConfigureAwait(false);
            if (json || command != "status")
            {
                Console.WriteLine(result?.ToJsonString(new JsonSerializerOptions { WriteIndented = !json }) ?? "{}");
            }
            else
            {
                PrintTable(result);
            }

            return 0;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            Console.Error.WriteLine($"replicator {command}: no answer within {wait.TotalMilliseconds:F0} ms{await WhyAsync(stateDirectory).ConfigureAwait(false)}");
            return 1;
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException or IOException)
        {
            Console.Error.WriteLine($"replicator {command}: {e.Message}");
            return 1;
        }
    }

    /// <summary>After a timeout: what the node's status says about why, if it answers at once.</summary>
    private static async Task<string> WhyAsync(string stateDirectory)
    {
        try
        {
            using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            JsonNode? status = (await ControlClient.SendAsync(stateDirectory, "status", quick.Token).ConfigureAwait(false))?["status"];
            return status?["Protection"] is JsonNode protection
                ? $"; the pair is {protection}{(status["ProtectionReason"] is JsonNode reason ? $": {reason}" : string.Empty)}"
                : string.Empty;
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException or IOException)
        {
            return $"; its status did not answer either ({e.Message})";
        }
    }

    private static void PrintTable(JsonNode? result)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"role",-28} {result?["role"]}"));
        if (result?["status"] is JsonObject status)
        {
            foreach ((string key, JsonNode? value) in status)
            {
                Console.WriteLine($"{key,-28} {value}");
            }
        }

        if (result?["nbd"] is JsonNode nbd)
        {
            Console.WriteLine($"{"nbd",-28} {nbd}");
        }
    }
}
