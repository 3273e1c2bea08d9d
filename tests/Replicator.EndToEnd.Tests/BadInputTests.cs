using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;

namespace Replicator.EndToEnd.Tests;

public class BadInputTests
{
    [Fact]
    public async Task A_primary_of_the_wrong_image_size_is_refused_with_the_reason_and_the_secondary_serves_on()
    {
        await using var pair = new DaemonPairWithSizes();
        pair.Pair.CreateImages(DaemonPair.ImageBytes / 2, DaemonPair.ImageBytes);
        pair.Pair.StartSecondary();
        await pair.Pair.Secondary!.WaitForOutputAsync("listening for the primary");
        pair.Pair.StartPrimary();

        Assert.NotEqual(0, await pair.Pair.Primary!.WaitForExitAsync());
        Assert.Contains("image size differs", pair.Pair.Primary.Output, StringComparison.Ordinal);
        await pair.Pair.Secondary.WaitForOutputAsync("image size differs");

        // The operator fixes the primary's image; the secondary never stopped.
        await pair.Pair.Primary.DisposeAsync();
        File.Copy(pair.Pair.SecondaryImage, pair.Pair.PrimaryImage, overwrite: true);
        pair.Pair.StartPrimary();
        await pair.Pair.Primary!.WaitForOutputAsync("exporting the protected disk over NBD");
        Assert.False(pair.Pair.Secondary.HasExited);
        await Tool.QemuIo(pair.Pair.PrimaryUri, "write -P 0x5A 0 1M");
        Assert.True(await pair.Pair.CheckpointAsync() > 0);
    }

    [Fact]
    public async Task A_primary_with_a_larger_largest_request_is_refused_at_the_handshake_naming_both_values()
    {
        await using var pair = new DaemonPairWithSizes();
        pair.Pair.CreateImages(DaemonPair.ImageBytes, DaemonPair.ImageBytes);
        pair.Pair.StartSecondary();
        await pair.Pair.Secondary!.WaitForOutputAsync("listening for the primary");
        pair.Pair.StartPrimary("--max-request-kb", "2048");

        // Refused before the primary takes a single client write, not once per large write later.
        Assert.NotEqual(0, await pair.Pair.Primary!.WaitForExitAsync());
        Assert.Contains("largest request differs", pair.Pair.Primary.Output, StringComparison.Ordinal);
        Assert.Contains("2097152", pair.Pair.Primary.Output, StringComparison.Ordinal);
        Assert.Contains("1048576", pair.Pair.Primary.Output, StringComparison.Ordinal);
        await pair.Pair.Secondary.WaitForOutputAsync("largest request differs");
        Assert.False(pair.Pair.Secondary.HasExited);
    }

    [Theory]
    [InlineData(false, "did not prove the pair key")]
    [InlineData(true, "wrong pair")]
    public async Task A_stranger_s_hello_for_another_pair_leaves_the_running_pair_protected(bool insecureLink, string refusal)
    {
        string[] link = insecureLink ? ["--insecure-link"] : [];
        await using DaemonPair pair = await DaemonPair.StartAsync(false, link, link);
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x31 0 1M");
        await pair.CheckpointAsync();

        // One hello frame from a plain TCP client, as anyone who reaches the port could send.
        using (var stranger = new TcpClient())
        {
            await stranger.ConnectAsync(IPAddress.Loopback, pair.SecondaryPort);
            var frame = new ArrayBufferWriter<byte>();
            new FrameWriter().WriteControl(frame, FrameType.Hello, new HelloMessage
            {
                ProtocolVersion = Handshake.ProtocolVersion,
                Identity = new PairIdentity { PairId = "stranger", ImageBytes = 4096, BlockSize = 4096, MaxRequestBytes = 4096 },
            });
            await stranger.GetStream().WriteAsync(frame.WrittenMemory);
            await pair.Secondary!.WaitForOutputAsync(refusal);
        }

        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x32 1M 1M");
        Assert.True(await pair.CheckpointAsync() > 0);
        Assert.False(pair.Secondary.HasExited);
        JsonNode status = await DaemonPair.StatusAsync(pair.PrimaryState);
        Assert.Null(status["status"]?["Degraded"]);
    }

    [Fact]
    public async Task A_changed_digit_in_the_secondary_s_state_record_is_refused_naming_it_and_the_file_is_left_as_it_was()
    {
        await using DaemonPair pair = await DaemonPair.StartAsync();
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x41 0 1M");
        long epoch = await pair.CheckpointAsync();
        await pair.Primary!.TerminateAsync();
        await pair.Primary.WaitForExitAsync();
        await pair.Secondary!.TerminateAsync();
        await pair.Secondary.WaitForExitAsync();

        // The applied epoch now says one more than the image holds (the clean stop's checkpoint).
        string path = Path.Combine(pair.SecondaryState, "state.json");
        string text = await File.ReadAllTextAsync(path);
        Match applied = Regex.Match(text, "\"AppliedEpoch\": (\\d+)");
        Assert.True(applied.Success && long.Parse(applied.Groups[1].Value, CultureInfo.InvariantCulture) >= epoch, text);
        long next = long.Parse(applied.Groups[1].Value, CultureInfo.InvariantCulture) + 1;
        await File.WriteAllTextAsync(path, text.Replace(applied.Value, $"\"AppliedEpoch\": {next}", StringComparison.Ordinal));
        byte[] damaged = await File.ReadAllBytesAsync(path);

        await pair.Secondary.DisposeAsync();
        pair.StartSecondary();

        Assert.NotEqual(0, await pair.Secondary.WaitForExitAsync());
        Assert.Contains("state.json is damaged", pair.Secondary.Output, StringComparison.Ordinal);
        Assert.Equal(damaged, await File.ReadAllBytesAsync(path));
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
