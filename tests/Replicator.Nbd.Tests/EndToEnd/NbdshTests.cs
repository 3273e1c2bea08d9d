using Replicator.Nbd.Tests.Support;
using Replicator.Runtime.Storage;

namespace Replicator.Nbd.Tests.EndToEnd;

/// <summary>nbdsh (libnbd's Python shell) against a file-backed export: exact requests, exact errors.</summary>
public class NbdshTests
{
    private const int Size = 1 << 20;

    [Fact]
    public async Task Trim_zero_and_flush_work_from_libnbd()
    {
        using var image = new TempImage(Size);
        using ImageFile backend = ImageFile.Open(image.Path);
        await using TestServer server = TestServer.Start(backend);

        ToolResult run = await ClientTools.RunAsync("nbdsh", "-u", server.Uri(), "-c", """
            h.pwrite(b"\xaa" * 16384, 0)
            h.trim(4096, 0)
            h.zero(4096, 4096, nbd.CMD_FLAG_FUA | nbd.CMD_FLAG_NO_HOLE)
            h.flush()
            data = h.pread(16384, 0)
            print("zeroes", data[:8192] == bytes(8192), "kept", data[8192:] == b"\xaa" * 8192)
            print("flags", h.can_flush(), h.can_fua(), h.can_trim(), h.can_zero(), h.can_multi_conn(), h.can_cache(), h.can_fast_zero(), h.can_df())
            """);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("zeroes True kept True", run.Output, StringComparison.Ordinal);
        Assert.Contains("flags True True True True True True True True", run.Output, StringComparison.Ordinal);
        Assert.True(backend.FlushesToDisk >= 2, $"{backend.FlushesToDisk} flushes for a FUA zero and a flush");
    }

    [Fact]
    public async Task A_zero_longer_than_the_backends_largest_call_is_accepted_and_zeroes_the_whole_range()
    {
        const int max = 64 << 10;
        using var image = new TempImage(Size);
        using ImageFile backend = ImageFile.Open(image.Path, maxRequestBytes: max);
        await using TestServer server = TestServer.Start(backend);

        ToolResult run = await ClientTools.RunAsync("nbdsh", "-u", server.Uri(), "-c", """
            for i in range(8):
                h.pwrite(b"\xaa" * (64 << 10), i << 16)
            print("max", h.get_block_size(nbd.SIZE_MAXIMUM))
            h.zero(296 << 10, 4 << 10, nbd.CMD_FLAG_FUA)
            h.trim(128 << 10, 300 << 10)
            data = b"".join(h.pread(64 << 10, i << 16) for i in range(8))
            print("zeroes", data[(4 << 10):(428 << 10)] == bytes(424 << 10), "kept", data[:(4 << 10)] == b"\xaa" * (4 << 10), data[(428 << 10):] == b"\xaa" * (84 << 10))
            """);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains($"max {NbdServerOptions.DefaultMaxPayloadBytes}", run.Output, StringComparison.Ordinal);
        Assert.Contains("zeroes True kept True True", run.Output, StringComparison.Ordinal);
        Assert.True(backend.FlushesToDisk >= 5, $"{backend.FlushesToDisk} flushes for a FUA zero split into 5 pieces");
    }

    [Fact]
    public async Task Out_of_range_and_misaligned_requests_get_errors_and_the_connection_keeps_serving()
    {
        using var image = new TempImage(Size);
        using ImageFile backend = ImageFile.Open(image.Path);
        await using TestServer server = TestServer.Start(backend);

        // Strict mode off, or libnbd refuses these itself and the server never sees them.
        ToolResult run = await ClientTools.RunAsync("nbdsh", "-u", server.Uri(), "-c", """
            h.set_strict_mode(0)
            size = h.get_size()
            def attempt(name, call):
                try:
                    call()
                    print(name, "ok")
                except nbd.Error as e:
                    print(name, e.errno)
            attempt("read-past-end", lambda: h.pread(4096, size))
            attempt("read-straddling-end", lambda: h.pread(4096, size - 512))
            attempt("write-past-end", lambda: h.pwrite(b"x" * 4096, size))
            attempt("zero-past-end", lambda: h.zero(4096, size))
            attempt("read-misaligned", lambda: h.pread(512, 100))
            attempt("read-too-long", lambda: h.pread(8 << 20, 0))
            attempt("write-then-read", lambda: h.pwrite(b"y" * 512, 0))
            print("read-back", h.pread(512, 0) == b"y" * 512)
            """);

        Assert.True(run.ExitCode == 0, run.ToString());
        string[] expected =
        [
            "read-past-end EINVAL", "read-straddling-end EINVAL", "write-past-end ENOSPC", "zero-past-end ENOSPC",
            "read-misaligned EINVAL", "read-too-long EINVAL", "write-then-read ok", "read-back True",
        ];
        Assert.Equal(expected, run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    [Theory]
    [InlineData("h.pwrite(b'z' * 4096, 0, nbd.CMD_FLAG_FUA)", 1)]
    [InlineData("h.pwrite(b'z' * 4096, 0)", 0)]
    public async Task A_fua_write_is_on_disk_before_its_reply_and_a_plain_one_is_not_flushed(string write, long flushes)
    {
        using var image = new TempImage(Size);
        using ImageFile backend = ImageFile.Open(image.Path);
        await using TestServer server = TestServer.Start(backend);

        // libnbd sends no flush of its own when it closes, so every flush counted comes from FUA.
        ToolResult run = await ClientTools.RunAsync("nbdsh", "-u", server.Uri(), "-c", write);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(flushes, backend.FlushesToDisk);
        Assert.Equal((byte)'z', image.ReadAll()[4095]);
    }

    [Fact]
    public async Task A_read_only_export_refuses_writes_with_EPERM()
    {
        using var image = new TempImage(Size);
        using ImageFile backend = ImageFile.Open(image.Path, readOnly: true);
        await using TestServer server = TestServer.Start(backend);

        ToolResult run = await ClientTools.RunAsync("nbdsh", "-u", server.Uri(), "-c", """
            h.set_strict_mode(0)
            print("read-only", h.is_read_only())
            try:
                h.pwrite(b"x" * 512, 0)
            except nbd.Error as e:
                print("write", e.errno)
            print("read", len(h.pread(512, 0)))
            """);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("read-only True", run.Output, StringComparison.Ordinal);
        Assert.Contains("write EPERM", run.Output, StringComparison.Ordinal);
        Assert.Contains("read 512", run.Output, StringComparison.Ordinal);
    }
}
