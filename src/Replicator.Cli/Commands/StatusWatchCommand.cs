using System.Globalization;
using System.Text.Json.Nodes;
using Replicator.Runtime.Control;
using Spectre.Console;

namespace Replicator.Cli.Commands;

/// <summary>
/// <c>replicator status --state-dir DIR --watch</c>: the node's status as a table, redrawn in place
/// twice a second (with a bar for a running sync), until interrupted, until <c>--timeout</c> when
/// one is given (exit 0), or until the node stops answering (exit 1, with why).
/// </summary>
internal static class StatusWatchCommand
{
    private static readonly TimeSpan Redraw = TimeSpan.FromMilliseconds(500);

    public static async Task<int> RunAsync(string stateDirectory, TimeSpan? runFor, TextWriter output)
    {
        using var timeout = runFor is { } limit ? new CancellationTokenSource(limit) : new CancellationTokenSource();
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        try
        {
            JsonNode? reply = await ControlClient.SendAsync(stateDirectory, "status", timeout.Token).ConfigureAwait(false);
            await console.Live(Render(reply)).AutoClear(false).StartAsync(async live =>
            {
                while (true)
                {
                    try
                    {
                        await Task.Delay(Redraw, timeout.Token).ConfigureAwait(false);
                        reply = await ControlClient.SendAsync(stateDirectory, "status", timeout.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (timeout.IsCancellationRequested)
                    {
                        return;
                    }

                    live.UpdateTarget(Render(reply));
                }
            }).ConfigureAwait(false);
            return 0;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            return 0;
        }
        catch (Exception e) when (e is InvalidOperationException or IOException)
        {
            await Console.Error.WriteLineAsync($"replicator status --watch: {e.Message}").ConfigureAwait(false);
            return 1;
        }
    }

    /// <summary>The status as the plain command prints it, one row per field, with a bar for a running sync.</summary>
    private static Table Render(JsonNode? reply)
    {
        var table = new Table().Border(TableBorder.Simple).AddColumn("field").AddColumn("value");
        table.AddRow("role", Markup.Escape(reply?["role"]?.ToString() ?? "?"));
        if (reply?["status"] is JsonObject status)
        {
            foreach ((string key, JsonNode? value) in status)
            {
                table.AddRow(Markup.Escape(key), Markup.Escape(value?.ToString() ?? string.Empty));
            }

            if (status["SyncBytesTotal"]?.GetValue<long>() is > 0 and long total && status["SyncCompleted"]?.GetValue<bool>() == false)
            {
                double fraction = Math.Clamp((double)status["SyncBytesCopied"]!.GetValue<long>() / total, 0, 1);
                int filled = (int)(fraction * 30);
                table.AddRow("sync progress", string.Create(CultureInfo.InvariantCulture, $"[green]{new string('#', filled)}[/]{new string('.', 30 - filled)} {fraction:P0}"));
            }
        }

        if (reply?["nbd"] is JsonNode nbd)
        {
            table.AddRow("nbd", Markup.Escape(nbd.ToString()));
        }

        return table;
    }
}
