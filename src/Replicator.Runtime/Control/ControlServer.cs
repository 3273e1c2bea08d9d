using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Replicator.Runtime.Control;

/// <summary>
/// The operator's way into a running node: a Unix socket (<c>control.sock</c> in the state
/// directory) that takes one JSON line per connection — <c>{"command":"status"}</c>,
/// <c>checkpoint</c> or <c>failover</c> — and answers one JSON line,
/// <c>{"ok":true,"result":...}</c> or <c>{"ok":false,"error":"..."}</c>.
/// </summary>
public sealed class ControlServer : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly Func<string, CancellationToken, Task<JsonNode?>> _handle;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _acceptLoop;

    private ControlServer(string path, Socket socket, Func<string, CancellationToken, Task<JsonNode?>> handle)
    {
        SocketPath = path;
        _socket = socket;
        _handle = handle;
        _acceptLoop = AcceptLoopAsync();
    }

    public string SocketPath { get; }

    public static string PathIn(string stateDirectory) => Path.Combine(stateDirectory, "control.sock");

    /// <summary>Starts serving; <paramref name="handle"/> answers a command or throws with the error to report.</summary>
    public static ControlServer Start(string stateDirectory, Func<string, CancellationToken, Task<JsonNode?>> handle)
    {
        string path = PathIn(stateDirectory);
        File.Delete(path); // a socket file left by a node that died
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));

        // Owner-only before it listens, so no one else can connect in between, whatever the umask.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        socket.Listen(8);
        return new ControlServer(path, socket, handle);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        try
        {
            await _acceptLoop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        File.Delete(SocketPath);
        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using (client)
        await using (var stream = new NetworkStream(client, ownsSocket: false))
        {
            JsonObject answer;
            try
            {
                // The socket's mode is the first gate; the peer's credentials are the second, in
                // case the file was opened up by hand: only the daemon's own user, or root.
                if (ControlPeer.RefusalFor(client) is { } refused)
                {
                    throw new InvalidOperationException(refused);
                }

                using var reader = new StreamReader(stream, Encoding.UTF8, leaveOpen: true);
                string line = await reader.ReadLineAsync(_stopping.Token).ConfigureAwait(false) ?? string.Empty;
                string command = JsonNode.Parse(line)?["command"]?.GetValue<string>() ?? throw new InvalidOperationException("no command given");
                JsonNode? result = await _handle(command, _stopping.Token).ConfigureAwait(false);
                answer = new JsonObject { ["ok"] = true, ["result"] = result };
            }
            catch (Exception e) when (e is InvalidOperationException or JsonException or IOException or TimeoutException or ArgumentException)
            {
                answer = new JsonObject { ["ok"] = false, ["error"] = e.Message };
            }

            byte[] bytes = Encoding.UTF8.GetBytes(answer.ToJsonString() + "\n");
            await stream.WriteAsync(bytes, _stopping.Token).ConfigureAwait(false);
        }
    }
}
