using System.Runtime.Versioning;

namespace Replicator.EndToEnd.Tests;

/// <summary>A primary exporting on a Unix socket (<c>--nbd unix:PATH</c>), as a local QEMU would use it.</summary>
[UnsupportedOSPlatform("windows")]
public class NbdUnixSocketTests
{
    [Fact]
    public async Task A_write_through_the_primary_s_unix_socket_is_replicated_and_the_socket_goes_with_the_primary()
    {
        await using var pair = new DaemonPair { PrimaryOnUnixSocket = true };
        pair.CreateImages(DaemonPair.ImageBytes, DaemonPair.ImageBytes);
        pair.StartSecondary();
        await pair.Secondary!.WaitForOutputAsync("listening for the primary");
        pair.StartPrimary();
        await pair.Primary!.WaitForOutputAsync($"exporting the protected disk over NBD on unix:{pair.PrimarySocket}");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(pair.PrimarySocket));
        Assert.Equal($"unix:{pair.PrimarySocket}", (await DaemonPair.StatusAsync(pair.PrimaryState))["nbd"]!.GetValue<string>());

        await Tool.QemuIo(pair.PrimaryUri, "write -P 0xd1 0 1M", "flush");
        await pair.CheckpointAsync();

        // The primary first (its last checkpoint; its socket file goes), then the secondary (it applies what it committed).
        await pair.Primary.TerminateAsync();
        Assert.Equal(0, await pair.Primary.WaitForExitAsync());
        Assert.False(Path.Exists(pair.PrimarySocket), "the primary left its socket file behind");
        await pair.Secondary.TerminateAsync();
        Assert.Equal(0, await pair.Secondary.WaitForExitAsync());
        byte[] secondary = await File.ReadAllBytesAsync(pair.SecondaryImage);
        Assert.True(secondary.AsSpan(0, 1 << 20).IndexOfAnyExcept((byte)0xd1) < 0, "the write through the socket did not reach the secondary's image");
    }

    [Fact]
    public async Task A_path_taken_by_another_file_stops_the_primary_before_it_writes_any_state()
    {
        await using var pair = new DaemonPair { PrimaryOnUnixSocket = true };
        pair.CreateImages(DaemonPair.ImageBytes, DaemonPair.ImageBytes);
        await File.WriteAllTextAsync(pair.PrimarySocket, "not a socket");
        pair.StartSecondary();
        await pair.Secondary!.WaitForOutputAsync("listening for the primary");

        pair.StartPrimary();

        Assert.NotEqual(0, await pair.Primary!.WaitForExitAsync());
        Assert.Contains($"{pair.PrimarySocket} exists and is a regular file, not a socket", pair.Primary.Output, StringComparison.Ordinal);
        Assert.Equal("not a socket", await File.ReadAllTextAsync(pair.PrimarySocket));

        // Nothing the node would have written on start (a data generation, a dirty log) is there.
        Assert.True(!Directory.Exists(pair.PrimaryState) || !Directory.EnumerateFileSystemEntries(pair.PrimaryState).Any(), string.Join(", ", Directory.Exists(pair.PrimaryState) ? Directory.EnumerateFileSystemEntries(pair.PrimaryState) : []));
    }
}
