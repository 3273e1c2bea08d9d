using System.Text.Json;
using Replicator.Nbd.Tests.Support;
using Replicator.Runtime.Storage;

namespace Replicator.Nbd.Tests.EndToEnd;

/// <summary>The real clients over a Unix socket export, with the URI syntax the docs give: nbd+unix:///NAME?socket=PATH.</summary>
public class UnixSocketClientTests
{
    private const int Size = 1 << 20;

    [Fact]
    public async Task Qemu_io_writes_and_reads_back_over_the_unix_socket()
    {
        using var directory = new SocketDirectory();
        using var image = new TempImage(Size);
        using ImageFile backend = ImageFile.Open(image.Path);
        await using TestServer server = TestServer.StartOnUnixSocket(backend, directory.PathOf("disk.sock"));

        ToolResult run = await ClientTools.RunAsync("qemu-io", "-f", "raw", server.UnixUri(),
            "-c", "write -P 0xcd 64k 64k", "-c", "read -P 0xcd 64k 64k", "-c", "flush", "-c", "read -P 0 0 64k");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("wrote 65536/65536 bytes at offset 65536", run.Output, StringComparison.Ordinal);
        Assert.Contains("read 65536/65536 bytes at offset 65536", run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("verification failed", run.Output, StringComparison.Ordinal);
        byte[] file = image.ReadAll();
        Assert.True(file.AsSpan(0, 64 << 10).IndexOfAnyExcept((byte)0) < 0);
        Assert.True(file.AsSpan(64 << 10, 64 << 10).IndexOfAnyExcept((byte)0xcd) < 0);
    }

    [Fact]
    public async Task Nbdinfo_sees_the_export_over_the_unix_socket()
    {
        using var directory = new SocketDirectory();
        using var image = new TempImage(3 << 20);
        using ImageFile backend = ImageFile.Open(image.Path);
        await using TestServer server = TestServer.StartOnUnixSocket(backend, directory.PathOf("disk.sock"));

        ToolResult run = await ClientTools.RunAsync("nbdinfo", "--json", server.UnixUri());

        Assert.True(run.ExitCode == 0, run.ToString());
        using JsonDocument json = JsonDocument.Parse(run.Output);
        JsonElement export = json.RootElement.GetProperty("exports")[0];
        Assert.Equal("disk", export.GetProperty("export-name").GetString());
        Assert.Equal(3 << 20, export.GetProperty("export-size").GetInt64());
    }
}
