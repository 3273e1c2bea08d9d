using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Replicator.Runtime.Control;

/// <summary>Sends one command to a running node's control socket and returns its result, or throws with the node's error.</summary>
public static class ControlClient
{
    public static async Task<JsonNode?> SendAsync(string stateDirectory, string command, CancellationToken cancellation)
    {
        string path = ControlServer.PathIn(stateDirectory);
        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"no node is running with state directory {stateDirectory} (no {path})");
        }

        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellation).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            throw new InvalidOperationException($"the node with state directory {stateDirectory} does not answer: {e.Message}", e);
        }

        await using var stream = new NetworkStream(socket, ownsSocket: false);
        byte[] request = Encoding.UTF8.GetBytes(new JsonObject { ["command"] = command }.ToJsonString() + "\n");
        await stream.WriteAsync(request, cancellation).ConfigureAwait(false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
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
