using System.Globalization;
using System.Text.Json.Nodes;
using Replicator.Runtime.Control;
using Spectre.Console;

namespace Replicator.Cli.Commands;

/// <summary>
/// <c>replicator status --state-dir DIR --until-synced</c>: a progress bar of the primary's running sync
/// (full sync, resync or repair copies), from its status twice a second, until the sync completes
/// (exit 0), there is none (exit 0), or the time runs out (exit 1).
/// </summary>
internal static class SyncWatchCommand
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(500);

    public static async Task<int> RunAsync(string stateDirectory, TimeSpan wait, TextWriter output)
    {
        using var timeout = new CancellationTokenSource(wait);
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        try
        {
            JsonNode? status = await StatusAsync(stateDirectory, timeout.Token).ConfigureAwait(false);
            if (status?["SyncBytesTotal"]?.GetValue<long>() is not > 0)
            {
                console.WriteLine("no sync has run since the primary started");
                return 0;
            }

            await console.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .StartAsync(async progress =>
                {
                    ProgressTask bar = progress.AddTask(Describe(status!), maxValue: status!["SyncBytesTotal"]!.GetValue<long>());
                    while (true)
                    {
                        bar.MaxValue = Math.Max(1, status!["SyncBytesTotal"]!.GetValue<long>());
                        bar.Value = status["SyncBytesCopied"]!.GetValue<long>();
                        bar.Description = Describe(status);
                        if (status["SyncCompleted"]!.GetValue<bool>())
                        {
                            bar.Value = bar.MaxValue;
                            break;
                        }

                        await Task.Delay(Poll, timeout.Token).ConfigureAwait(false);
                        status = await StatusAsync(stateDirectory, timeout.Token).ConfigureAwait(false);
                    }
                }).ConfigureAwait(false);
            console.WriteLine(status!["Sync"]?.GetValue<string>() ?? "sync complete");
            return 0;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync($"replicator status --until-synced: the sync did not complete within {wait.TotalMilliseconds:F0} ms").ConfigureAwait(false);
            return 1;
        }
        catch (Exception e) when (e is InvalidOperationException or IOException)
        {
            await Console.Error.WriteLineAsync($"replicator status --until-synced: {e.Message}").ConfigureAwait(false);
            return 1;
        }
    }

    private static async Task<JsonNode?> StatusAsync(string stateDirectory, CancellationToken cancel)
    {
        JsonNode? reply = await ControlClient.SendAsync(stateDirectory, "status", cancel).ConfigureAwait(false);
        return reply?["role"]?.GetValue<string>() == "primary"
            ? reply["status"]
            : throw new InvalidOperationException("only a primary syncs: this state directory's node is not one");
    }

    private static string Describe(JsonNode status)
    {
        double limit = status["SyncRateLimitMBps"]?.GetValue<double>() ?? 0;
        string kind = status["SyncWholeImage"]!.GetValue<bool>() ? "full sync" : "resync";
        return string.Create(CultureInfo.InvariantCulture, $"{kind} {status["SyncMBps"]!.GetValue<double>():F1} MB/s{(limit > 0 ? $" (limit {limit:F0})" : string.Empty)}");
    }
}
