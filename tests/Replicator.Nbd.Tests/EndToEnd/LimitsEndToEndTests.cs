using Replicator.Nbd.Protocol;
using Replicator.Nbd.Tests.Support;
using Replicator.Runtime.Storage;

namespace Replicator.Nbd.Tests.EndToEnd;

/// <summary>The server's limits as real clients (qemu-io, nbdsh) meet them.</summary>
public class LimitsEndToEndTests
{
    private const int Size = 4 << 20;
    private const int ReadBytes = 256 << 10;

    [Fact]
    public async Task Qemu_io_is_served_while_clients_that_never_read_their_replies_hold_the_whole_budget()
    {
        using var image = new TempImage(Size);
        using ImageFile backend = ImageFile.Open(image.Path, maxRequestBytes: ReadBytes);
        var options = new NbdServerOptions { EndPoint = TestServer.AnyLoopbackPort, ExportName = "disk", MaxTotalInFlightBytes = 2L << 20 };
        await using TestServer server = TestServer.Start(backend, options);
        int perClient = KernelBuffers.RepliesBeyondKernelBuffers(ReadBytes, options.MaxTotalInFlightBytes);
        var hogs = new List<NbdTestClient>();
        try
        {
            for (int c = 0; c < 2; c++)
            {
                NbdTestClient hog = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, receiveBufferBytes: KernelBuffers.SmallReceiveBuffer);
                hogs.Add(hog);
                for (int i = 0; i < perClient; i++)
                {
                    await hog.SendRequestAsync(NbdCommand.Read, (ulong)i, (ulong)(i * ReadBytes) % Size, ReadBytes);
                }
            }

            await server.Log.WaitForAsync("reading from clients waits until replies free some");

            // One request at a time is all qemu-io asks here, and a connection's only request is never held back.
            ToolResult run = await ClientTools.RunAsync("qemu-io", "-f", "raw", server.Uri(),
                "-c", "write -P 0x3c 0 64k", "-c", "read -P 0x3c 0 64k", "-c", "flush");

            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.DoesNotContain("verification failed", run.Output, StringComparison.Ordinal);
            Assert.Equal(0x3c, image.ReadAll()[(64 << 10) - 1]);
        }
        finally
        {
            foreach (NbdTestClient hog in hogs)
            {
                hog.Reset();
                await hog.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Nbdsh_over_the_connection_limit_is_refused_and_connects_once_a_place_is_free()
    {
        using var image = new TempImage(Size);
        using ImageFile backend = ImageFile.Open(image.Path);
        await using TestServer server = TestServer.Start(backend, new NbdServerOptions { EndPoint = TestServer.AnyLoopbackPort, ExportName = "disk", MaxConnections = 1 });

        // -u connects h (the one place); a second handle is refused; once h has gone, one gets in
        // (a few refused tries may come first, while the server takes h's place back).
        ToolResult run = await ClientTools.RunAsync("nbdsh", "-u", server.Uri(), "-c", $$"""
            h.pwrite(b"\x77" * 4096, 0)
            h2 = nbd.NBD()
            try:
                h2.connect_uri("{{server.Uri()}}")
                print("second connected")
            except nbd.Error as e:
                print("second refused")
            h.shutdown()
            for attempt in range(10000):
                h3 = nbd.NBD()
                try:
                    h3.connect_uri("{{server.Uri()}}")
                    break
                except nbd.Error:
                    pass
            print("third reads", h3.pread(4096, 0) == b"\x77" * 4096)
            """);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("second refused", run.Output, StringComparison.Ordinal);
        Assert.Contains("third reads True", run.Output, StringComparison.Ordinal);
        Assert.True(server.Log.Contains(Microsoft.Extensions.Logging.LogLevel.Warning, "the server's limit of 1 open connections is reached"), server.Log.ToString());
    }
}
