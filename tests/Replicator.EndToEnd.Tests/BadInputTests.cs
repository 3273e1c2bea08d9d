namespace Replicator.EndToEnd.Tests;

public class BadInputTests
{
    [Fact]
    public async Task A_handshake_with_the_wrong_image_size_stops_both_daemons_with_the_reason()
    {
        await using var pair = new DaemonPairWithSizes();
        pair.Pair.CreateImages(DaemonPair.ImageBytes / 2, DaemonPair.ImageBytes);
        pair.Pair.StartSecondary();
        await pair.Pair.Secondary!.WaitForOutputAsync("listening for the primary");
        pair.Pair.StartPrimary();

        Assert.NotEqual(0, await pair.Pair.Primary!.WaitForExitAsync());
        Assert.NotEqual(0, await pair.Pair.Secondary.WaitForExitAsync());
        Assert.Contains("image size differs", pair.Pair.Primary.Output, StringComparison.Ordinal);
        Assert.Contains("image size differs", pair.Pair.Secondary.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_NBD_request_beyond_the_end_of_the_disk_fails_and_the_export_keeps_serving()
    {
        await using DaemonPair pair = await DaemonPair.StartAsync();
        string script = $"""
            h.set_strict_mode(0)
            for name, call in [("read", lambda: h.pread(4096, {DaemonPair.ImageBytes})), ("write", lambda: h.pwrite(b"x" * 4096, {DaemonPair.ImageBytes} - 512))]:
                try:
                    call()
                    print(name, "ACCEPTED")
                except nbd.Error as e:
                    print(name, "REFUSED", e.errno)
            h.pwrite(b"\x55" * 4096, 0)
            print("after", h.pread(4096, 0)[:2].hex())
            """;
        (int code, string output) = await Tool.RunAsync("nbdsh", "-u", pair.PrimaryUri, "-c", script);

        Assert.True(code == 0, output);
        Assert.Contains("read REFUSED", output, StringComparison.Ordinal);
        Assert.Contains("write REFUSED", output, StringComparison.Ordinal);
        Assert.Contains("after 5555", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_or_malformed_options_are_refused_with_a_clear_message()
    {
        (int code, string output) = await ReplicatorProcess.RunAsync("primary", "--image", "/nonexistent.img", "--peer", "nowhere", "--nbd", "127.0.0.1:1");
        Assert.Equal(2, code);
        Assert.Contains("--peer 'nowhere' is not an IP address and port", output, StringComparison.Ordinal);
        Assert.Contains("--state-dir DIR is required", output, StringComparison.Ordinal);
    }

    private sealed class DaemonPairWithSizes : IAsyncDisposable
    {
        public DaemonPair Pair { get; } = new();

        public ValueTask DisposeAsync() => Pair.DisposeAsync();
    }
}
