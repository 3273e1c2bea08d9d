using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Replicator.Nbd.Protocol;
using Replicator.Nbd.Tests.Support;

namespace Replicator.Nbd.Tests.Limits;

/// <summary>NbdServerOptions.NegotiationTimeout, on the server's clock (a fake one the test advances).</summary>
public class NegotiationTimeoutTests
{
    private static readonly TimeSpan Timeout = new NbdServerOptions().NegotiationTimeout;

    [Fact]
    public async Task Clients_that_do_not_finish_the_handshake_in_time_are_closed_and_logged_and_the_server_serves_on()
    {
        using var meter = new Meter("test.nbd");
        using var refused = new MetricCollector<long>(meter, "replicator.nbd.connections.refused");
        await using TestServer server = TestServer.Start(new MemoryBackend(), new NbdServerOptions { EndPoint = TestServer.AnyLoopbackPort, ExportName = "disk" }, meter);
        await using NbdTestClient silent = await NbdTestClient.ConnectAsync(server.EndPoint);
        await silent.ReadExactlyAsync(18); // the timeout is armed before the greeting goes out
        await using NbdTestClient haggling = await NbdTestClient.ConnectAsync(server.EndPoint);
        await haggling.ReadExactlyAsync(18);
        await haggling.SendUInt32Async((uint)(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes));
        await haggling.SendOptionAsync(NbdOption.List, default);
        Assert.Equal((uint)NbdOptionReplyType.Server, (await haggling.ReadOptionReplyAsync()).Type);
        Assert.Equal((uint)NbdOptionReplyType.Ack, (await haggling.ReadOptionReplyAsync()).Type);

        server.Time.Advance(Timeout);

        Assert.True(await silent.WaitForServerCloseAsync());
        Assert.True(await haggling.WaitForServerCloseAsync());
        await server.Log.WaitForAsync("the handshake did not finish within 00:00:10");
        Assert.Single(server.Log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("the handshake did not finish", StringComparison.Ordinal));
        // Both counted for the metrics (each before its socket closed), though logged once.
        Assert.Equal(2, refused.GetMeasurementSnapshot().Count(m => Equals(m.Tags["reason"], "handshake")));
        await using NbdTestClient late = await NbdTestClient.ConnectAndGoAsync(server.EndPoint);
        Assert.Equal(NbdError.None, (await late.RequestAsync(NbdCommand.Read, 0, 512)).Error);
    }

    [Fact]
    public async Task A_handshake_finished_just_in_time_is_never_cut_by_the_timeout()
    {
        await using TestServer server = TestServer.Start(new MemoryBackend());
        await using NbdTestClient client = await NbdTestClient.ConnectAsync(server.EndPoint);
        await client.ReadExactlyAsync(18);
        await client.SendUInt32Async((uint)(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes));

        server.Time.Advance(Timeout - TimeSpan.FromMilliseconds(1));
        await client.SendOptionAsync(NbdOption.ExportName, "disk"u8);
        await client.ReadExactlyAsync(10);
        server.Time.Advance(TimeSpan.FromHours(1));

        Assert.Equal(NbdError.None, (await client.RequestAsync(NbdCommand.Read, 0, 512)).Error);
        Assert.DoesNotContain(server.Log.Entries, e => e.Message.Contains("the handshake did not finish", StringComparison.Ordinal));
    }
}
