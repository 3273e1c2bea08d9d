using Microsoft.Extensions.Logging;
using Replicator.Nbd.Protocol;
using Replicator.Nbd.Tests.Support;

namespace Replicator.Nbd.Tests.Limits;

/// <summary>StopAsync (the daemons' SIGTERM path) ends within a bound whatever the clients do.</summary>
public class StopTests
{
    private const int ReadBytes = 256 << 10;

    [Fact]
    public async Task Stop_completes_at_its_timeout_with_a_client_that_never_reads_its_replies()
    {
        int reads = KernelBuffers.RepliesBeyondKernelBuffers(ReadBytes);
        int entered = 0;
        var allEntered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var backend = new MemoryBackend(size: 4 << 20, maxRequestBytes: ReadBytes)
        {
            Gate = _ =>
            {
                if (Interlocked.Increment(ref entered) == reads)
                {
                    allEntered.TrySetResult();
                }

                return Task.CompletedTask;
            },
        };
        await using TestServer server = TestServer.Start(backend);
        await using NbdTestClient client = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, receiveBufferBytes: KernelBuffers.SmallReceiveBuffer);
        for (int i = 0; i < reads; i++)
        {
            await client.SendRequestAsync(NbdCommand.Read, (ulong)i, (ulong)(i * ReadBytes) % (4 << 20), ReadBytes);
        }

        // Every read has run: more reply bytes than the kernel can hold, so some stay in the server.
        await allEntered.Task.WaitAsync(Deadline.Wait);
        Task stopping = server.Server.StopAsync(Deadline.Token());
        await server.Log.WaitForAsync("stopping; 1 connection(s) finish their requests");
        Assert.False(stopping.IsCompleted);

        server.Time.Advance(new NbdServerOptions().StopTimeout);

        await stopping.WaitAsync(Deadline.Wait);
        Assert.True(server.Log.Contains(LogLevel.Warning, "1 connection(s) still busy 00:00:03 after the stop began"), server.Log.ToString());
        Assert.Equal(0, server.Server.ConnectionCount);
        await server.Server.WhenNothingInFlightAsync(Deadline.Token());
    }

    [Theory]
    [InlineData(true, "connection error")]
    [InlineData(false, "the client closed the connection without NBD_CMD_DISC")]
    public async Task A_client_that_died_with_requests_in_the_backend_is_forgotten_at_once_and_stop_does_not_wait(bool reset, string reason)
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var never = new TaskCompletionSource();
        int calls = 0;
        var backend = new MemoryBackend
        {
            Gate = _ =>
            {
                if (Interlocked.Increment(ref calls) == 2)
                {
                    entered.TrySetResult();
                }

                return never.Task; // the backend never finishes by itself; only cancellation ends its wait
            },
        };
        await using TestServer server = TestServer.Start(backend);
        NbdTestClient client = await NbdTestClient.ConnectAndGoAsync(server.EndPoint);
        await client.SendRequestAsync(NbdCommand.Write, 1, 0, 4096, payload: new byte[4096]);
        await client.SendRequestAsync(NbdCommand.Read, 2, 4096, 4096);
        await entered.Task.WaitAsync(Deadline.Wait);
        Assert.True(server.Server.InFlightBytes > 8192);

        if (reset)
        {
            client.Reset();
        }

        await client.DisposeAsync();
        await server.Log.WaitForAsync($"closed: {reason}");

        // Its requests were canceled in the backend and their bytes came back.
        await server.Server.WhenNothingInFlightAsync(Deadline.Token());
        Assert.Equal(0, server.Server.InFlightBytes);

        // No clock advance: the stop owes nothing to its timeout.
        await server.Server.StopAsync(Deadline.Token()).WaitAsync(Deadline.Wait);
        Assert.DoesNotContain(server.Log.Entries, e => e.Message.Contains("still busy", StringComparison.Ordinal));
        Assert.Equal(0, server.Server.ConnectionCount);
    }
}
