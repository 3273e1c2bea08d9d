using Replicator.Nbd.Tests.Support;
using Replicator.Runtime.Storage;

namespace Replicator.Nbd.Tests.EndToEnd;

/// <summary>qemu-io (qemu's own NBD client) against a file-backed export.</summary>
public class QemuIoTests
{
    private const int Size = 1 << 20;

    [Fact]
    public async Task Writes_read_back_and_flush_with_qemu_io()
    {
        using var image = new TempImage(Size);
        using ImageFile backend = ImageFile.Open(image.Path);
        await using TestServer server = TestServer.Start(backend);

        ToolResult run = await ClientTools.RunAsync("qemu-io", "-f", "raw", server.Uri(),
            "-c", "write -P 0xab 0 64k", "-c", "read -P 0xab 0 64k", "-c", "flush", "-c", "read -P 0 64k 64k");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("wrote 65536/65536 bytes at offset 0", run.Output, StringComparison.Ordinal);
        Assert.Contains("read 65536/65536 bytes at offset 65536", run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("verification failed", run.Output, StringComparison.Ordinal);
        byte[] file = image.ReadAll();
        Assert.True(file.AsSpan(0, 64 << 10).IndexOfAnyExcept((byte)0xab) < 0);
        Assert.True(file.AsSpan(64 << 10).IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public async Task Writethrough_writes_carry_fua_and_cache_none_writes_do_not()
    {
        using var image = new TempImage(Size);
        using ImageFile backend = ImageFile.Open(image.Path);
        await using TestServer server = TestServer.Start(backend);
        string[] fourWrites = ["-c", "write -P 1 0 4k", "-c", "write -P 2 4k 4k", "-c", "write -P 3 8k 4k", "-c", "write -P 4 12k 4k"];

        // qemu-io's default cache mode is writethrough: every write is sent with FUA.
        ToolResult writethrough = await ClientTools.RunAsync("qemu-io", ["-f", "raw", server.Uri(), .. fourWrites]);
        Assert.True(writethrough.ExitCode == 0, writethrough.ToString());
        long afterWritethrough = backend.FlushesToDisk;
        Assert.True(afterWritethrough >= 4, $"{afterWritethrough} flushes to disk for 4 FUA writes");

        // -t none: no FUA; qemu flushes once when it closes the image, and that is all.
        ToolResult none = await ClientTools.RunAsync("qemu-io", ["-t", "none", "-f", "raw", server.Uri(), .. fourWrites]);
        Assert.True(none.ExitCode == 0, none.ToString());
        long forNone = backend.FlushesToDisk - afterWritethrough;
        Assert.True(forNone <= 1, $"{forNone} flushes to disk for 4 writes without FUA");
        Assert.Equal(4, image.ReadAll()[12 << 10]);
    }

    [Fact]
    public async Task A_request_beyond_the_end_fails_cleanly_and_the_server_keeps_serving()
    {
        using var image = new TempImage(Size);
        using ImageFile backend = ImageFile.Open(image.Path);
        await using TestServer server = TestServer.Start(backend);

        ToolResult run = await ClientTools.RunAsync("qemu-io", "-f", "raw", server.Uri(),
            "-c", "write -P 0x5a 0 4k", "-c", "read 1M 64k", "-c", "write -P 0x5a 1020k 64k", "-c", "read -P 0x5a 0 4k");

        // qemu checks the range against the export size itself, so it fails these without sending them.
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("read failed", run.Output + run.Errors, StringComparison.Ordinal);
        Assert.Contains("write failed", run.Output + run.Errors, StringComparison.Ordinal);
        Assert.Contains("read 4096/4096 bytes at offset 0", run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("verification failed", run.Output, StringComparison.Ordinal);

        ToolResult again = await ClientTools.RunAsync("qemu-io", "-f", "raw", server.Uri(), "-c", "read -P 0x5a 0 4k");
        Assert.True(again.ExitCode == 0, again.ToString());
    }

    [Fact]
    public async Task Byte_granular_requests_are_aligned_by_qemu_to_the_advertised_minimum()
    {
        using var image = new TempImage(Size);
        using ImageFile backend = ImageFile.Open(image.Path);
        await using TestServer server = TestServer.Start(backend);

        ToolResult run = await ClientTools.RunAsync("qemu-io", "-f", "raw", server.Uri(),
            "-c", "write -P 0xcd 100 3", "-c", "read -P 0xcd 100 3", "-c", "read -P 0 0 100");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.DoesNotContain("verification failed", run.Output, StringComparison.Ordinal);
        Assert.False(server.Log.Contains(Microsoft.Extensions.Logging.LogLevel.Debug, "refused"), server.Log.ToString());
        Assert.Equal([0, 0xcd, 0xcd, 0xcd, 0], image.ReadAll()[99..104]);
    }

    [Fact]
    public async Task Discard_and_write_zeroes_leave_zeroes()
    {
        using var image = new TempImage(Size);
        using ImageFile backend = ImageFile.Open(image.Path);
        await using TestServer server = TestServer.Start(backend);

        ToolResult run = await ClientTools.RunAsync("qemu-io", "-f", "raw", server.Uri(),
            "-c", "write -P 0xee 0 192k", "-c", "discard 0 64k", "-c", "write -z 64k 64k", "-c", "read -P 0 0 128k", "-c", "read -P 0xee 128k 64k");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.DoesNotContain("verification failed", run.Output, StringComparison.Ordinal);
        Assert.True(image.ReadAll().AsSpan(0, 128 << 10).IndexOfAnyExcept((byte)0) < 0);
    }
}
