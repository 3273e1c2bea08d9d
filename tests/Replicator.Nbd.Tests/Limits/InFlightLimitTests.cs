using Replicator.Nbd.Protocol;
using Replicator.Nbd.Tests.Support;

namespace Replicator.Nbd.Tests.Limits;

/// <summary>NbdServerOptions.MaxTotalInFlightBytes: one bound on what every connection together holds.</summary>
public class InFlightLimitTests
{
    private const int ReadBytes = 256 << 10;
    private const long Bound = 4L << 20;
    private const int Clients = 3;

    /// <summary>What one read holds: its data and the reply header, sent in one buffer.</summary>
    private const int RequestBytes = ReadBytes + 16;

    [Fact]
    public async Task Clients_that_send_reads_and_never_read_replies_hold_the_server_to_its_bound_and_it_reads_on_once_they_do()
    {
        var backend = new MemoryBackend(size: 4 << 20, maxRequestBytes: ReadBytes);
        backend.Data.AsSpan().Fill(0x6b);
        var options = new NbdServerOptions
        {
            EndPoint = TestServer.AnyLoopbackPort,
            ExportName = "disk",
            MaxTotalInFlightBytes = Bound, // well under one connection's own bound (64 MiB): only the server's bound holds
        };
        await using TestServer server = TestServer.Start(backend, options);
        int perClient = KernelBuffers.RepliesBeyondKernelBuffers(ReadBytes, Bound);
        NbdTestClient[] clients = await Task.WhenAll(Enumerable.Range(0, Clients).Select(_ => NbdTestClient.ConnectAndGoAsync(server.EndPoint, receiveBufferBytes: KernelBuffers.SmallReceiveBuffer)));
        try
        {
            foreach (NbdTestClient client in clients)
            {
                for (int i = 0; i < perClient; i++)
                {
                    await client.SendRequestAsync(NbdCommand.Read, (ulong)i, (ulong)(i * ReadBytes) % (4 << 20), ReadBytes);
                }
            }

            // Replies nobody reads fill the kernel's buffers, then the server's bound: it stops reading.
            // (Each connection may hold one request past the bound, so none is ever starved.)
            await server.Log.WaitForAsync("reading from clients waits until replies free some");
            Assert.InRange(server.Server.InFlightBytes, 0, Bound + (Clients * RequestBytes));

            // Reading the replies frees the bound, and the server reads (and answers) every request left.
            await Task.WhenAll(clients.Select(async client =>
            {
                var handles = new HashSet<ulong>();
                for (int i = 0; i < perClient; i++)
                {
                    SimpleReply reply = await client.ReadReplyAsync(_ => ReadBytes);
                    Assert.Equal(NbdError.None, reply.Error);
                    Assert.All(reply.Data, b => Assert.Equal(0x6b, b));
                    Assert.True(handles.Add(reply.Handle), $"handle {reply.Handle} answered twice");
                }
            }));

            Assert.InRange(server.Server.PeakInFlightBytes, Bound - RequestBytes, Bound + (Clients * RequestBytes));
            await server.Server.WhenNothingInFlightAsync(Deadline.Token());
        }
        finally
        {
            foreach (NbdTestClient client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_connection_s_request_goes_in_once_it_is_alone_even_while_others_hold_the_whole_budget()
    {
        const int Page = 4096;
        var never = new TaskCompletionSource();
        var releaseFirst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var backend = new MemoryBackend
        {
            Gate = call => call switch
            {
                "read 8192+4096" => never.Task, // the other client's request: holds its bytes until the end
                "read 0+4096" => releaseFirst.Task,
                _ => Task.CompletedTask,
            },
        };
        var options = new NbdServerOptions { EndPoint = TestServer.AnyLoopbackPort, ExportName = "disk", MaxTotalInFlightBytes = Page };
        await using TestServer server = TestServer.Start(backend, options);
        await using NbdTestClient other = await NbdTestClient.ConnectAndGoAsync(server.EndPoint);
        await using NbdTestClient client = await NbdTestClient.ConnectAndGoAsync(server.EndPoint);

        // Each connection's only request goes in past the bound: the other's, then the client's first.
        await other.SendRequestAsync(NbdCommand.Read, 9, 8192, Page);
        await client.SendRequestAsync(NbdCommand.Read, 1, 0, Page);

        // The client's second one waits: the server's budget is spent, and never given back by the other.
        await client.SendRequestAsync(NbdCommand.Read, 2, 4096, Page);
        await server.Log.WaitForAsync("reading from clients waits until replies free some");

        // Once the first has replied the second is alone, and goes in.
        releaseFirst.SetResult();
        SimpleReply first = await client.ReadReplyAsync(_ => Page);
        SimpleReply second = await client.ReadReplyAsync(_ => Page);
        Assert.Equal((1ul, 2ul), (first.Handle, second.Handle));
        Assert.Equal(NbdError.None, second.Error);
        Assert.True(server.Server.InFlightBytes > Page, $"{server.Server.InFlightBytes} bytes held: the other's request past the bound");

        // The other goes: its request is dropped, so the server's stop has nothing to wait for.
        other.Reset();
        await server.Log.WaitForAsync("closed: connection error");
    }
}
