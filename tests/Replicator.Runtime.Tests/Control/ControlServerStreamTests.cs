using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Replicator.Runtime.Control;

namespace Replicator.Runtime.Tests.Control;

/// <summary>The control socket's event streams: bounded, and each one's end frees its place.</summary>
public sealed class ControlServerStreamTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("control-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task One_stream_past_the_bound_is_refused_and_a_stream_that_ends_frees_its_place()
    {
        await using ControlServer server = ControlServer.Start(
            _directory,
            (command, _) => Task.FromResult<JsonNode?>(JsonValue.Create(command)),
            (command, cancel) => command == "events" ? Endless(cancel) : null);
        using var readers = new CancellationTokenSource();
        var open = new List<IAsyncEnumerator<JsonNode>>();
        for (int i = 0; i < ControlServer.MaxStreams; i++)
        {
            IAsyncEnumerator<JsonNode> stream = ControlClient.StreamAsync(_directory, "events", readers.Token).GetAsyncEnumerator();
            Assert.True(await stream.MoveNextAsync());
            open.Add(stream);
        }

        IAsyncEnumerator<JsonNode> refused = ControlClient.StreamAsync(_directory, "events", readers.Token).GetAsyncEnumerator();
        InvalidOperationException e = await Assert.ThrowsAsync<InvalidOperationException>(async () => await refused.MoveNextAsync());
        Assert.Contains($"{ControlServer.MaxStreams} event streams are open already", e.Message, StringComparison.Ordinal);
        await refused.DisposeAsync();

        // Commands other than streams are still answered.
        Assert.Equal("status", (await ControlClient.SendAsync(_directory, "status", readers.Token))!.GetValue<string>());

        // A reader that leaves frees its place (the server sees the hang-up), so a new stream opens.
        await open[0].DisposeAsync();
        open.RemoveAt(0);
        IAsyncEnumerator<JsonNode>? again = null;
        for (int attempt = 0; again is null; attempt++)
        {
            IAsyncEnumerator<JsonNode> candidate = ControlClient.StreamAsync(_directory, "events", readers.Token).GetAsyncEnumerator();
            try
            {
                Assert.True(await candidate.MoveNextAsync());
                again = candidate;
            }
            catch (InvalidOperationException) when (attempt < 1000)
            {
                // The server has not yet seen the first reader go: ask again.
                await candidate.DisposeAsync();
            }
        }

        open.Add(again);
        await readers.CancelAsync();
        foreach (IAsyncEnumerator<JsonNode> stream in open)
        {
            await stream.DisposeAsync();
        }
    }

    /// <summary>An event stream that never ends by itself: one line at once, then one per yield.</summary>
    private static async IAsyncEnumerable<JsonObject> Endless([EnumeratorCancellation] CancellationToken cancel)
    {
        while (!cancel.IsCancellationRequested)
        {
            yield return new JsonObject { ["type"] = "tick" };
            await Task.Delay(Timeout.Infinite, cancel).ConfigureAwait(false);
        }
    }
}
