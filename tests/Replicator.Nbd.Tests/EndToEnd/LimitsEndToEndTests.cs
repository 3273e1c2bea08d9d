using Replicator.Nbd.Tests.Support;
using Replicator.Runtime.Storage;

namespace Replicator.Nbd.Tests.EndToEnd;

/// <summary>The server's limits as real clients (qemu-io, nbdsh) meet them.</summary>
public class LimitsEndToEndTests
{
    private const int Size = 4 << 20;

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
