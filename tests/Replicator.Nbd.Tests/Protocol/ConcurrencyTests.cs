using Replicator.Nbd.Protocol;
using Replicator.Nbd.Tests.Support;

namespace Replicator.Nbd.Tests.Protocol;

/// <summary>Pipelining within a connection, many connections at once, and how connections end.</summary>
public class ConcurrencyTests
{
    [Fact]
    public async Task A_slow_request_does_not_hold_up_later_ones_and_replies_come_in_completion_order()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var backend = new MemoryBackend { Gate = call => call == "read 0+512" ? release.Task : Task.CompletedTask };
        backend.Data.AsSpan(4096, 512).Fill(0x42);
        await using TestServer server = TestServer.Start(backend);
        await using NbdTestClient client = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, "disk");

        await client.SendRequestAsync(NbdCommand.Read, 1, 0, 512);
        await client.SendRequestAsync(NbdCommand.Read, 2, 4096, 512);

        SimpleReply first = await client.ReadReplyAsync(_ => 512);
        Assert.Equal(2ul, first.Handle);
        Assert.All(first.Data, b => Assert.Equal(0x42, b));

        release.SetResult();
        SimpleReply second = await client.ReadReplyAsync(_ => 512);
        Assert.Equal(1ul, second.Handle);
        Assert.Equal(NbdError.None, second.Error);
    }

    [Fact]
    public async Task Many_pipelined_requests_each_get_exactly_one_reply()
    {
        var backend = new MemoryBackend(size: 4 << 20);
        await using TestServer server = TestServer.Start(backend, maxInFlightRequests: 8);
        await using NbdTestClient client = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, "disk");
        const int Count = 200;

        // Sent all at once, more than the in-flight bound: the server stops reading, then catches up.
        Task sending = Task.Run(async () =>
        {
            for (ulong i = 0; i < Count; i++)
            {
                byte[] payload = [.. Enumerable.Repeat((byte)i, 4096)];
                await client.SendRequestAsync(NbdCommand.Write, i, i * 4096, 4096, payload: payload);
            }
        });
        var handles = new HashSet<ulong>();
        for (int i = 0; i < Count; i++)
        {
            SimpleReply reply = await client.ReadReplyAsync();
            Assert.Equal(NbdError.None, reply.Error);
            Assert.True(handles.Add(reply.Handle), $"handle {reply.Handle} answered twice");
        }

        await sending;
        Assert.Equal(Count, handles.Count);
        for (int i = 0; i < Count; i++)
        {
            Assert.Equal((byte)i, backend.Data[(i * 4096) + 4095]);
        }
    }

    [Fact]
    public async Task Connections_are_served_side_by_side()
    {
        var backend = new MemoryBackend(size: 1 << 20);
        await using TestServer server = TestServer.Start(backend);

        await Task.WhenAll(Enumerable.Range(0, 8).Select(async n =>
        {
            await using NbdTestClient client = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, "disk");
            Assert.Equal(1ul << 20, client.ExportSize);
            byte[] payload = [.. Enumerable.Repeat((byte)(n + 1), 8192)];
            Assert.Equal(NbdError.None, (await client.RequestAsync(NbdCommand.Write, (ulong)n * 8192, 8192, payload: payload)).Error);
            Assert.Equal(payload, (await client.RequestAsync(NbdCommand.Read, (ulong)n * 8192, 8192)).Data);
        }));
    }

    [Fact]
    public async Task Disconnect_lets_requests_in_flight_reply_before_the_server_closes()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var backend = new MemoryBackend { Gate = _ => release.Task };
        await using TestServer server = TestServer.Start(backend);
        await using NbdTestClient client = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, "disk");

        await client.SendRequestAsync(NbdCommand.Write, 7, 0, 512, payload: new byte[512]);
        await client.SendRequestAsync(NbdCommand.Disconnect, 8, 0, 0);
        await server.Log.WaitForAsync("closed: the client sent NBD_CMD_DISC");
        release.SetResult();

        SimpleReply reply = await client.ReadReplyAsync();
        Assert.Equal((7ul, NbdError.None), (reply.Handle, reply.Error));
        Assert.True(await client.WaitForServerCloseAsync());
    }

    [Fact]
    public async Task Stop_finishes_requests_in_flight_then_closes_every_connection()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var backend = new MemoryBackend
        {
            Gate = _ =>
            {
                started.TrySetResult();
                return release.Task;
            },
        };
        backend.Data.AsSpan(0, 512).Fill(0x99);
        await using TestServer server = TestServer.Start(backend);
        await using NbdTestClient client = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, "disk");
        await using NbdTestClient idle = await NbdTestClient.ConnectAsync(server.EndPoint);

        await client.SendRequestAsync(NbdCommand.Read, 5, 0, 512);
        await started.Task.WaitAsync(Deadline.Wait);
        Task stopping = server.Server.StopAsync(Deadline.Token());
        await server.Log.WaitForAsync("closed: the server is stopping; requests already received finish first");
        release.SetResult();

        SimpleReply reply = await client.ReadReplyAsync(_ => 512);
        Assert.Equal((5ul, NbdError.None), (reply.Handle, reply.Error));
        Assert.All(reply.Data, b => Assert.Equal(0x99, b));
        await stopping.WaitAsync(Deadline.Wait);
        Assert.True(await client.WaitForServerCloseAsync());
        Assert.True(await idle.WaitForServerCloseAsync());
        Assert.Equal(0, server.Server.ConnectionCount);
    }
}
