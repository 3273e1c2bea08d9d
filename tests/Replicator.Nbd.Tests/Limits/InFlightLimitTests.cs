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
}
