using System.Net;
using System.Net.Sockets;
using Replicator.Nbd.Tests.Support;

namespace Replicator.Nbd.Tests.Server;

/// <summary>Reserving the endpoint (Listen) before serving (Start): how a daemon learns its port or path is free before it does anything it cannot take back.</summary>
public class ListenThenStartTests
{
    [Fact]
    public async Task A_client_that_connects_after_listen_waits_in_the_backlog_and_is_greeted_at_start()
    {
        await using var server = new NbdServer(new MemoryBackend(), new NbdServerOptions { EndPoint = TestServer.AnyLoopbackPort });
        server.Listen();
        server.Listen(); // again: nothing more
        var endPoint = (IPEndPoint)server.LocalEndPoint;

        using var client = new TcpClient();
        await client.ConnectAsync(endPoint, Deadline.Token());
        Assert.Equal(0, server.ConnectionCount); // nothing accepts yet

        server.Start();
        byte[] greeting = new byte[18];
        await client.GetStream().ReadExactlyAsync(greeting, Deadline.Token());
        Assert.Equal(Hex.Golden("4e42444d41474943 49484156454f5054 0003"), Hex.Of(greeting));
        Assert.Throws<InvalidOperationException>(server.Start);
    }

    [Fact]
    public async Task The_backend_is_checked_at_start_so_a_server_may_listen_before_its_backend_is_ready()
    {
        await using var server = new NbdServer(new MemoryBackend(size: 1000), new NbdServerOptions { EndPoint = TestServer.AnyLoopbackPort });
        server.Listen();

        ArgumentException refused = Assert.Throws<ArgumentException>(server.Start);

        Assert.Contains("not a multiple of 512", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stopped_server_neither_listens_nor_starts_again()
    {
        var server = new NbdServer(new MemoryBackend(), new NbdServerOptions { EndPoint = TestServer.AnyLoopbackPort });
        server.Listen();
        var endPoint = (IPEndPoint)server.LocalEndPoint;

        await server.DisposeAsync();

        Assert.Throws<InvalidOperationException>(server.Listen);
        Assert.Throws<InvalidOperationException>(server.Start);
        using var client = new TcpClient();
        await Assert.ThrowsAsync<SocketException>(async () => await client.ConnectAsync(endPoint, Deadline.Token()));
    }
}
