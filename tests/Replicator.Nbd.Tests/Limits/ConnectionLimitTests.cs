using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Replicator.Nbd.Protocol;
using Replicator.Nbd.Tests.Support;

namespace Replicator.Nbd.Tests.Limits;

/// <summary>NbdServerOptions.MaxConnections: over it a connection is closed before the greeting, and the others go on.</summary>
public class ConnectionLimitTests
{
    [Fact]
    public async Task Connections_over_the_limit_are_closed_at_once_and_the_others_keep_being_served()
    {
        var backend = new MemoryBackend();
        using var meter = new Meter("test.nbd");
        using var refused = new MetricCollector<long>(meter, "replicator.nbd.connections.refused");
        await using TestServer server = TestServer.Start(backend, new NbdServerOptions { EndPoint = TestServer.AnyLoopbackPort, ExportName = "disk", MaxConnections = 2 }, meter);
        await using NbdTestClient first = await NbdTestClient.ConnectAndGoAsync(server.EndPoint);
        await using NbdTestClient second = await NbdTestClient.ConnectAsync(server.EndPoint); // still in the handshake: counted too
        await second.ReadExactlyAsync(18);

        for (int i = 0; i < 3; i++)
        {
            await using NbdTestClient over = await NbdTestClient.ConnectAsync(server.EndPoint);
            Assert.Equal(0, await over.ReadUntilServerCloseAsync()); // not even the greeting
        }

        // Each counted for the metrics; one line for the three (rate-limited), naming the limit.
        Assert.Equal(3, refused.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.All(refused.GetMeasurementSnapshot(), m => Assert.Equal("limit", m.Tags["reason"]));
        Assert.Single(server.Log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("closed at once: the server's limit of 2 open connections is reached", StringComparison.Ordinal));

        // The two inside are untouched.
        byte[] payload = [.. Enumerable.Repeat((byte)0x5e, 4096)];
        Assert.Equal(NbdError.None, (await first.RequestAsync(NbdCommand.Write, 0, 4096, payload: payload)).Error);
        await second.SendUInt32Async((uint)(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes));
        await second.SendOptionAsync(NbdOption.ExportName, "disk"u8);
        await second.ReadExactlyAsync(10);
        Assert.Equal(payload, (await second.RequestAsync(NbdCommand.Read, 0, 4096)).Data);

        // After the interval, the next refusal is logged with the two held back.
        server.Time.Advance(TimeSpan.FromSeconds(10));
        await using (NbdTestClient over = await NbdTestClient.ConnectAsync(server.EndPoint))
        {
            Assert.Equal(0, await over.ReadUntilServerCloseAsync());
        }

        Assert.Contains(server.Log.Entries, e => e.Message.Contains("closed at once: the server's limit of 2 open connections is reached (2 more closed so since the last report)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_place_freed_by_a_closed_connection_is_taken_by_the_next()
    {
        await using TestServer server = TestServer.Start(new MemoryBackend(), new NbdServerOptions { EndPoint = TestServer.AnyLoopbackPort, ExportName = "disk", MaxConnections = 1 });
        await using (NbdTestClient first = await NbdTestClient.ConnectAndGoAsync(server.EndPoint))
        {
            await first.SendRequestAsync(NbdCommand.Disconnect, 1, 0, 0);
            Assert.True(await first.WaitForServerCloseAsync());
        }

        // The place comes back just after the client sees the close: a few refused tries may come first.
        NbdTestClient? next = null;
        for (int attempt = 0; next is null; attempt++)
        {
            Assert.True(attempt < 10_000, "the closed connection's place never came back");
            NbdTestClient candidate = await NbdTestClient.ConnectAsync(server.EndPoint);
            try
            {
                await candidate.ReadExactlyAsync(18);
                next = candidate;
            }
            catch (Exception ex) when (ex is EndOfStreamException or IOException)
            {
                await candidate.DisposeAsync();
            }
        }

        await using (next)
        {
            await next.SendUInt32Async((uint)(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes));
            await next.SendOptionAsync(NbdOption.ExportName, "disk"u8);
            await next.ReadExactlyAsync(10);
            Assert.Equal(NbdError.None, (await next.RequestAsync(NbdCommand.Read, 0, 512)).Error);
        }
    }
}
