using System.Text.Json.Nodes;
using Replicator.Runtime.Control;

namespace Replicator.Cli.Commands;

/// <summary>
/// <c>replicator events --state-dir DIR [--timeout MS]</c>: a running node's state changes as JSON
/// lines on stdout (<see cref="StatusEvents"/>), each written as it comes, until the node stops
/// (exit 1: the stream ended under the reader) or the timeout passes (exit 0).
/// </summary>
internal static class EventsCommand
{
    // Lines for people and scripts alike: '+', '<' or an apostrophe in a status text are written as they are.
    private static readonly System.Text.Json.JsonSerializerOptions Readable = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static async Task<int> RunAsync(string stateDirectory, TimeSpan? runFor, TextWriter output, TextWriter errors)
    {
        using var timeout = runFor is { } limit ? new CancellationTokenSource(limit) : new CancellationTokenSource();
        try
        {
            await foreach (JsonNode e in ControlClient.StreamAsync(stateDirectory, "events", timeout.Token).ConfigureAwait(false))
            {
                await output.WriteLineAsync(e.ToJsonString(Readable)).ConfigureAwait(false);
                await output.FlushAsync(timeout.Token).ConfigureAwait(false);
            }

            await errors.WriteLineAsync("replicator events: the node closed the stream (it stopped)").ConfigureAwait(false);
            return 1;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            return 0;
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or System.Text.Json.JsonException)
        {
            await errors.WriteLineAsync($"replicator events: {e.Message}").ConfigureAwait(false);
            return 1;
        }
    }
}
