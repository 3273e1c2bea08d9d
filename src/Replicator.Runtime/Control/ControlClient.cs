using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Replicator.Runtime.Control;

/// <summary>Sends one command to a running node's control socket and returns its result, or throws with the node's error.</summary>
public static class ControlClient
{
    public static async Task<JsonNode?> SendAsync(string stateDirectory, string command, CancellationToken cancellation)
    {
        using Socket socket = await ConnectAsync(stateDirectory, cancellation).ConfigureAwait(false);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        using var reader = await AskAsync(stream, command, cancellation).ConfigureAwait(false);
        return await AnswerAsync(reader, cancellation).ConfigureAwait(false);
    }

    /// <summary>A streaming command (<c>events</c>): each line the node sends, until it closes the stream or <paramref name="cancellation"/> ends it.</summary>
    public static async IAsyncEnumerable<JsonNode> StreamAsync(string stateDirectory, string command, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellation)
    {
        using Socket socket = await ConnectAsync(stateDirectory, cancellation).ConfigureAwait(false);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        using var reader = await AskAsync(stream, command, cancellation).ConfigureAwait(false);
        await AnswerAsync(reader, cancellation).ConfigureAwait(false);
        while (await reader.ReadLineAsync(cancellation).ConfigureAwait(false) is { } line)
        {
            yield return JsonNode.Parse(line) ?? throw new InvalidOperationException("the node sent an empty event");
        }
    }

    /// <summary>Whether a node answers on the state directory's control socket (a socket file alone may be a dead node's).</summary>
    public static async Task<bool> IsNodeRunningAsync(string stateDirectory)
    {
        if (!File.Exists(ControlServer.PathIn(stateDirectory)))
        {
            return false;
        }

        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await SendAsync(stateDirectory, "status", timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (InvalidOperationException)
        {
            // A socket file left by a node that died: nobody answers on it.
            return false;
        }
    }

    private static async Task<Socket> ConnectAsync(string stateDirectory, CancellationToken cancellation)
    {
        string path = ControlServer.PathIn(stateDirectory);
        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"no node is running with state directory {stateDirectory} (no {path})");
        }

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellation).ConfigureAwait(false);
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new InvalidOperationException($"the node with state directory {stateDirectory} does not answer: {e.Message}", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static async Task<StreamReader> AskAsync(NetworkStream stream, string command, CancellationToken cancellation)
    {
        byte[] request = Encoding.UTF8.GetBytes(new JsonObject { ["command"] = command }.ToJsonString() + "\n");
        await stream.WriteAsync(request, cancellation).ConfigureAwait(false);
        return new StreamReader(stream, Encoding.UTF8, leaveOpen: true);
    }

    /// <summary>The node's answer line: its result, or its error thrown.</summary>
    private static async Task<JsonNode?> AnswerAsync(StreamReader reader, CancellationToken cancellation)
    {
        string line = await reader.ReadLineAsync(cancellation).ConfigureAwait(false)
            ?? throw new InvalidOperationException("the node closed the control connection without answering");
        JsonNode answer = JsonNode.Parse(line) ?? throw new InvalidOperationException("empty answer");
        if (answer["ok"]?.GetValue<bool>() != true)
        {
            throw new InvalidOperationException(answer["error"]?.GetValue<string>() ?? "the node refused the command");
        }

        return answer["result"];
    }
}
