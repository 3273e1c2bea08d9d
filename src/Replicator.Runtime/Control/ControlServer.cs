using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Replicator.Runtime.Control;

/// <summary>
/// The operator's way into a running node: a Unix socket (<c>control.sock</c> in the state
/// directory) that takes one JSON line per connection — <c>{"command":"status"}</c>,
/// <c>checkpoint</c> or <c>failover</c> — and answers one JSON line,
/// <c>{"ok":true,"result":...}</c> or <c>{"ok":false,"error":"..."}</c>. A streaming command
/// (<c>events</c>) is answered the same way and then one JSON line per event until the reader
/// leaves or the node stops; at most <see cref="MaxStreams"/> stream at once.
/// </summary>
public sealed class ControlServer : IAsyncDisposable
{
    private readonly Socket _socket;
    /// <summary>Event streams open at once, at most; one more is refused with an error.</summary>
    public const int MaxStreams = 8;

    private readonly Func<string, CancellationToken, Task<JsonNode?>> _handle;
    private readonly Func<string, CancellationToken, IAsyncEnumerable<JsonObject>?>? _streams;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _acceptLoop;
    private int _streaming;

    private ControlServer(string path, Socket socket, Func<string, CancellationToken, Task<JsonNode?>> handle, Func<string, CancellationToken, IAsyncEnumerable<JsonObject>?>? streams)
    {
        SocketPath = path;
        _socket = socket;
        _handle = handle;
        _streams = streams;
        _acceptLoop = AcceptLoopAsync();
    }

    public string SocketPath { get; }

    public static string PathIn(string stateDirectory) => Path.Combine(stateDirectory, "control.sock");

    /// <summary>
    /// Starts serving; <paramref name="handle"/> answers a command or throws with the error to report;
    /// <paramref name="streams"/>, when given, returns the lines of a streaming command (null: not one).
    /// </summary>
    public static ControlServer Start(string stateDirectory, Func<string, CancellationToken, Task<JsonNode?>> handle, Func<string, CancellationToken, IAsyncEnumerable<JsonObject>?>? streams = null)
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
        return new ControlServer(path, socket, handle, streams);
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
            IAsyncEnumerable<JsonObject>? events = null;
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
                events = _streams?.Invoke(command, _stopping.Token);
                if (events is not null && Interlocked.Increment(ref _streaming) > MaxStreams)
                {
                    Interlocked.Decrement(ref _streaming);
                    events = null;
                    throw new InvalidOperationException($"{MaxStreams} event streams are open already: close one first");
                }

                JsonNode? result = events is null ? await _handle(command, _stopping.Token).ConfigureAwait(false) : null;
                answer = new JsonObject { ["ok"] = true, ["result"] = result };
            }
            catch (Exception e) when (e is InvalidOperationException or JsonException or IOException or TimeoutException or ArgumentException)
            {
                answer = new JsonObject { ["ok"] = false, ["error"] = e.Message };
            }

            byte[] bytes = Encoding.UTF8.GetBytes(answer.ToJsonString() + "\n");
            try
            {
                await stream.WriteAsync(bytes, _stopping.Token).ConfigureAwait(false);
                if (events is not null)
                {
                    await StreamAsync(client, stream, events).ConfigureAwait(false);
                }
            }
            finally
            {
                if (events is not null)
                {
                    Interlocked.Decrement(ref _streaming);
                }
            }
        }
    }

    /// <summary>Writes each event as a line until the reader hangs up (seen by a poll between events) or the node stops.</summary>
    private async Task StreamAsync(Socket client, NetworkStream stream, IAsyncEnumerable<JsonObject> events)
    {
        using var readerGone = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        Task hangUp = WatchHangUpAsync(client, readerGone);
        try
        {
            await foreach (JsonObject e in events.WithCancellation(readerGone.Token).ConfigureAwait(false))
            {
                await stream.WriteAsync(Encoding.UTF8.GetBytes(e.ToJsonString() + "\n"), readerGone.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
        {
            // The reader left, or the node stops: the stream ends here.
        }
        finally
        {
            await readerGone.CancelAsync().ConfigureAwait(false);
            await hangUp.ConfigureAwait(false);
        }
    }

    /// <summary>A reader sends nothing after its command: a read that returns (0 bytes or more) or fails means it has gone.</summary>
    private static async Task WatchHangUpAsync(Socket client, CancellationTokenSource readerGone)
    {
        try
        {
            byte[] one = new byte[1];
            await client.ReceiveAsync(one, SocketFlags.None, readerGone.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        await readerGone.CancelAsync().ConfigureAwait(false);
    }
}
