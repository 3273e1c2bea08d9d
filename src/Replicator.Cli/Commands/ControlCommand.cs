using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Replicator.Runtime.Control;

namespace Replicator.Cli.Commands;

/// <summary><c>replicator checkpoint|failover|status --state-dir DIR [--json]</c>: talks to a running node.</summary>
internal static class ControlCommand
{
    public static async Task<int> RunAsync(string command, string[] args)
    {
        string? stateDirectory = null;
        bool json = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--state-dir" when i + 1 < args.Length:
                    stateDirectory = args[++i];
                    break;
                case "--json":
                    json = true;
                    break;
                default:
                    Console.Error.WriteLine($"replicator {command}: unknown option '{args[i]}' (expected --state-dir DIR{(command == "status" ? " [--json]" : string.Empty)})");
                    return 2;
            }
        }

        if (stateDirectory is null)
        {
            Console.Error.WriteLine($"replicator {command}: --state-dir DIR is required");
            return 2;
        }

        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
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
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException or IOException)
        {
            Console.Error.WriteLine($"replicator {command}: {e.Message}");
            return 1;
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
