using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Replicator.Qemu.Tests.Support;

/// <summary>
/// Plays QEMU's side of QMP on a real Unix socket, one step at a time as the test says: send the
/// greeting, read a command, answer it, send an event, or hang up as a dying QEMU would.
/// </summary>
internal sealed class FakeQmpServer : IAsyncDisposable
{
    public const string Greeting = """{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7"}, "capabilities": ["oob"]}}""";

    private readonly Socket _listener;
    private readonly string _directory;
    private Socket? _connection;
    private StreamReader? _reader;

    public FakeQmpServer()
    {
        _directory = Path.Combine(Path.GetTempPath(), "qmp-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_directory);
        SocketPath = Path.Combine(_directory, "qmp.sock");
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        _listener.Listen(1);
    }

    public string SocketPath { get; }

    public async Task AcceptAsync()
    {
        _connection = await _listener.AcceptAsync();
        _reader = new StreamReader(new NetworkStream(_connection, ownsSocket: false), Encoding.UTF8);
    }

    public Task SendGreetingAsync() => SendAsync(Greeting);

    /// <summary>Accepts, greets and answers qmp_capabilities: the client is then in command mode.</summary>
    public async Task NegotiateAsync()
    {
        await AcceptAsync();
        await SendGreetingAsync();
        FakeCommand negotiation = await ReadCommandAsync();
        Assert.Equal("qmp_capabilities", negotiation.Execute);
        await ReturnAsync(negotiation);
    }

    public async Task<FakeCommand> ReadCommandAsync()
    {
        string? line = await _reader!.ReadLineAsync();
        Assert.NotNull(line);
        using JsonDocument document = JsonDocument.Parse(line);
        JsonElement root = document.RootElement;
        return new FakeCommand(
            root.GetProperty("execute").GetString()!,
            root.GetProperty("id").GetRawText(),
            root.TryGetProperty("arguments", out JsonElement arguments) ? arguments.GetRawText() : null);
    }

    public Task ReturnAsync(FakeCommand command, string value = "{}") =>
        SendAsync($$"""{"return": {{value}}, "id": {{command.Id}}}""");

    public Task ErrorAsync(FakeCommand command, string errorClass, string description) =>
        SendAsync($$$"""{"id": {{{command.Id}}}, "error": {"class": "{{{errorClass}}}", "desc": "{{{description}}}"}}""");

    public Task EventAsync(string name, string data = "{}") =>
        SendAsync($$$"""{"timestamp": {"seconds": 1700000000, "microseconds": 250}, "event": "{{{name}}}", "data": {{{data}}}}""");

    public async Task SendAsync(string json)
    {
        // Each message is one line ending in CRLF, as QEMU writes them.
        await _connection!.SendAsync(Encoding.UTF8.GetBytes(json + "\r\n"), SocketFlags.None);
    }

    /// <summary>Closes the connection as QEMU's death would.</summary>
    public void HangUp()
    {
        _connection?.Shutdown(SocketShutdown.Both);
        _connection?.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        _reader?.Dispose();
        _connection?.Dispose();
        _listener.Dispose();
        Directory.Delete(_directory, recursive: true);
        return ValueTask.CompletedTask;
    }
}

internal sealed record FakeCommand(string Execute, string Id, string? Arguments);
