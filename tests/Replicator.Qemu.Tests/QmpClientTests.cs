using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Replicator.Qemu.Qmp;
using Replicator.Qemu.Tests.Support;

namespace Replicator.Qemu.Tests;

public sealed class QmpClientTests : IAsyncDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(5);
    private readonly FakeQmpServer _server = new();
    private readonly FakeTimeProvider _time = new();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Connecting_reads_the_greeting_and_negotiates_capabilities()
    {
        Task<QmpClient> connecting = QmpClient.ConnectAsync(_server.SocketPath, Limit, _time);
        await _server.AcceptAsync();
        await _server.SendGreetingAsync();
        FakeCommand negotiation = await _server.ReadCommandAsync();
        Assert.Equal("qmp_capabilities", negotiation.Execute);
        Assert.False(connecting.IsCompleted);
        await _server.ReturnAsync(negotiation);

        await using QmpClient client = await connecting;
        Assert.Equal(new QemuVersion(7, 2, 22, "Debian 1:7.2+dfsg-7"), client.Version);
    }

    [Fact]
    public async Task Answers_go_to_their_commands_by_id_whatever_order_they_come_in()
    {
        await using QmpClient client = await ConnectedAsync();
        Task<JsonElement> status = client.ExecuteAsync("query-status");
        Task<JsonElement> version = client.ExecuteAsync("query-version");
        FakeCommand first = await _server.ReadCommandAsync();
        FakeCommand second = await _server.ReadCommandAsync();
        Assert.NotEqual(first.Id, second.Id);
        FakeCommand statusCommand = first.Execute == "query-status" ? first : second;
        FakeCommand versionCommand = first.Execute == "query-status" ? second : first;

        await _server.ReturnAsync(versionCommand, """{"package": "v"}""");
        await _server.ReturnAsync(statusCommand, """{"status": "running", "running": true}""");

        Assert.Equal("running", (await status).GetProperty("status").GetString());
        Assert.Equal("v", (await version).GetProperty("package").GetString());
    }

    [Fact]
    public async Task Arguments_are_sent_as_given()
    {
        await using QmpClient client = await ConnectedAsync();
        Task<JsonElement> migrate = client.ExecuteAsync("migrate", new JsonObject { ["uri"] = "unix:/run/x.sock" });
        FakeCommand command = await _server.ReadCommandAsync();
        Assert.Equal("migrate", command.Execute);
        Assert.Equal("unix:/run/x.sock", JsonDocument.Parse(command.Arguments!).RootElement.GetProperty("uri").GetString());
        await _server.ReturnAsync(command);
        await migrate;
    }

    [Fact]
    public async Task Events_interleaved_with_answers_go_to_the_event_stream_and_to_their_waiters()
    {
        await using QmpClient client = await ConnectedAsync();
        Task<QmpEvent> stopped = client.WaitForEventAsync(e => e.Name == "STOP", "STOP");
        Task<QmpEvent> migrated = client.WaitForEventAsync(e => e.Name == "MIGRATION" && e.Status == "completed", "migration completed");
        Task<JsonElement> stop = client.ExecuteAsync("stop");
        FakeCommand command = await _server.ReadCommandAsync();

        await _server.EventAsync("STOP");
        await _server.EventAsync("MIGRATION", """{"status": "setup"}""");
        await _server.ReturnAsync(command);
        await _server.EventAsync("MIGRATION", """{"status": "completed"}""");

        await stop;
        Assert.Equal("STOP", (await stopped).Name);
        QmpEvent done = await migrated;
        Assert.Equal("completed", done.Status);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1700000000).AddTicks(2500), done.Timestamp);
        string[] names = [(await client.Events.ReadAsync()).Name, (await client.Events.ReadAsync()).Name, (await client.Events.ReadAsync()).Name];
        Assert.Equal(["STOP", "MIGRATION", "MIGRATION"], names);
    }

    [Fact]
    public async Task An_error_answer_fails_its_command_with_the_class_and_description()
    {
        await using QmpClient client = await ConnectedAsync();
        Task<JsonElement> migrate = client.ExecuteAsync("migrate", new JsonObject { ["uri"] = "file:/x" });
        FakeCommand command = await _server.ReadCommandAsync();
        await _server.ErrorAsync(command, "GenericError", "Parameter 'uri' expects a valid migration protocol");

        QmpCommandException error = await Assert.ThrowsAsync<QmpCommandException>(() => migrate);
        Assert.Equal(QmpErrorClass.GenericError, error.ErrorClass);
        Assert.Equal("migrate", error.Command);
        Assert.Contains("valid migration protocol", error.Message, StringComparison.Ordinal);

        // The session goes on.
        Task<JsonElement> next = client.ExecuteAsync("cont");
        await _server.ReturnAsync(await _server.ReadCommandAsync());
        await next;
    }

    [Fact]
    public async Task An_error_class_QEMU_adds_later_is_reported_as_unknown()
    {
        await using QmpClient client = await ConnectedAsync();
        Task<JsonElement> command = client.ExecuteAsync("x-new");
        await _server.ErrorAsync(await _server.ReadCommandAsync(), "SomeFutureError", "no");
        Assert.Equal(QmpErrorClass.Unknown, (await Assert.ThrowsAsync<QmpCommandException>(() => command)).ErrorClass);
    }

    [Fact]
    public async Task QEMU_dying_mid_command_fails_the_command_the_waiters_and_every_later_command()
    {
        await using QmpClient client = await ConnectedAsync();
        Task<QmpEvent> migrated = client.WaitForEventAsync(e => e.Name == "MIGRATION", "migration");
        Task<JsonElement> migrate = client.ExecuteAsync("migrate", new JsonObject { ["uri"] = "unix:/x" });
        await _server.ReadCommandAsync();

        _server.HangUp();

        await Assert.ThrowsAsync<QmpConnectionClosedException>(() => migrate);
        await Assert.ThrowsAsync<QmpConnectionClosedException>(() => migrated);
        await Assert.ThrowsAsync<QmpConnectionClosedException>(() => client.Closed);
        await Assert.ThrowsAsync<QmpConnectionClosedException>(() => client.ExecuteAsync("cont"));
        await Assert.ThrowsAsync<QmpConnectionClosedException>(() => client.WaitForEventAsync(_ => true, "anything"));
        Assert.False(await client.Events.WaitToReadAsync());
    }

    [Fact]
    public async Task A_command_not_answered_in_time_fails_with_a_timeout_and_its_late_answer_is_dropped()
    {
        await using QmpClient client = await ConnectedAsync();
        Task<JsonElement> stop = client.ExecuteAsync("stop", timeout: TimeSpan.FromSeconds(2));
        FakeCommand late = await _server.ReadCommandAsync();

        _time.Advance(TimeSpan.FromMilliseconds(1999));
        Assert.False(stop.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        QmpTimeoutException timeout = await Assert.ThrowsAsync<QmpTimeoutException>(() => stop);
        Assert.Equal(TimeSpan.FromSeconds(2), timeout.Timeout);

        Task<JsonElement> cont = client.ExecuteAsync("cont");
        FakeCommand next = await _server.ReadCommandAsync();
        await _server.ReturnAsync(late);
        await _server.ReturnAsync(next, """{"fresh": true}""");
        Assert.True((await cont).GetProperty("fresh").GetBoolean());
        Assert.Equal(1, client.LateReplies);
    }

    [Fact]
    public async Task An_awaited_event_that_never_comes_times_out()
    {
        await using QmpClient client = await ConnectedAsync();
        Task<QmpEvent> waiting = client.WaitForEventAsync(e => e.Name == "RESUME", "RESUME", TimeSpan.FromSeconds(1));
        await _server.EventAsync("STOP");
        Assert.Equal("STOP", (await client.Events.ReadAsync()).Name);
        Assert.False(waiting.IsCompleted);

        _time.Advance(TimeSpan.FromSeconds(1));
        await Assert.ThrowsAsync<QmpTimeoutException>(() => waiting);
    }

    [Fact]
    public async Task A_QEMU_that_never_greets_times_out()
    {
        Task<QmpClient> connecting = QmpClient.ConnectAsync(_server.SocketPath, Limit, _time);
        await _server.AcceptAsync();
        Assert.False(connecting.IsCompleted);

        _time.Advance(Limit);
        await Assert.ThrowsAsync<QmpTimeoutException>(() => connecting);
    }

    [Fact]
    public async Task A_QEMU_that_hangs_up_before_greeting_fails_the_connect()
    {
        Task<QmpClient> connecting = QmpClient.ConnectAsync(_server.SocketPath, Limit, _time);
        await _server.AcceptAsync();
        _server.HangUp();
        await Assert.ThrowsAsync<QmpConnectionClosedException>(() => connecting);
    }

    [Fact]
    public async Task A_first_message_that_is_not_a_greeting_is_refused()
    {
        Task<QmpClient> connecting = QmpClient.ConnectAsync(_server.SocketPath, Limit, _time);
        await _server.AcceptAsync();
        await _server.SendAsync("""{"return": {}}""");
        await Assert.ThrowsAsync<QmpProtocolException>(() => connecting);
    }

    [Fact]
    public async Task A_refused_negotiation_fails_the_connect()
    {
        Task<QmpClient> connecting = QmpClient.ConnectAsync(_server.SocketPath, Limit, _time);
        await _server.AcceptAsync();
        await _server.SendGreetingAsync();
        await _server.ErrorAsync(await _server.ReadCommandAsync(), "CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'");
        Assert.Equal(QmpErrorClass.CommandNotFound, (await Assert.ThrowsAsync<QmpCommandException>(() => connecting)).ErrorClass);
    }

    [Fact]
    public async Task Garbage_on_the_socket_drops_the_connection_and_fails_what_waits()
    {
        await using QmpClient client = await ConnectedAsync();
        Task<JsonElement> stop = client.ExecuteAsync("stop");
        await _server.ReadCommandAsync();
        await _server.SendAsync("this is not json");
        QmpConnectionClosedException closed = await Assert.ThrowsAsync<QmpConnectionClosedException>(() => stop);
        Assert.Contains("not JSON", closed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_socket_nobody_listens_on_fails_with_a_clear_error()
    {
        await using var other = new FakeQmpServer();
        string missing = other.SocketPath + ".gone";
        QmpConnectionClosedException error = await Assert.ThrowsAsync<QmpConnectionClosedException>(() => QmpClient.ConnectAsync(missing, Limit, _time));
        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
    }

    private async Task<QmpClient> ConnectedAsync()
    {
        Task<QmpClient> connecting = QmpClient.ConnectAsync(_server.SocketPath, Limit, _time);
        await _server.NegotiateAsync();
        return await connecting;
    }
}
