using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Microsoft.Extensions.Logging;
using Replicator.Nbd.Server;
using Replicator.Nbd.Tests.Support;

namespace Replicator.Nbd.Tests.Server;

/// <summary>
/// A server on a Unix socket path: the file is owner-only from the start, a crashed server's stale
/// socket is replaced, anything else at the path refuses the start and is left alone, and the
/// server removes its own file on stop, and nothing else. Linux only, as the server's socket paths are.
/// </summary>
[SupportedOSPlatform("linux")]
public class UnixSocketListeningTests
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [Fact]
    public async Task The_socket_file_is_owner_only_and_shown_as_unix_path()
    {
        using var directory = new SocketDirectory();
        string path = directory.PathOf("disk.sock");

        await using TestServer server = TestServer.StartOnUnixSocket(new MemoryBackend(), path);

        Assert.Equal(UnixFileKind.Socket, UnixFileStatus.Of(path)?.Kind);
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(path));
        Assert.Equal($"unix:{path}", NbdEndPoints.Describe(server.Server.LocalEndPoint));
        Assert.True(server.Log.Contains(LogLevel.Information, $"NBD server listening on unix:{path}: export 'disk'"), server.Log.ToString());
        Assert.Equal(SocketError.Success, await ConnectAsync(path));
    }

    [Fact]
    public async Task A_stale_socket_file_is_replaced()
    {
        using var directory = new SocketDirectory();
        string path = directory.PathOf("disk.sock");
        SocketDirectory.CreateStaleSocket(path);
        Assert.Equal(SocketError.ConnectionRefused, await ConnectAsync(path));

        await using TestServer server = TestServer.StartOnUnixSocket(new MemoryBackend(), path);

        Assert.Equal(SocketError.Success, await ConnectAsync(path));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(path));
    }

    [Theory]
    [InlineData("a regular file")]
    [InlineData("a directory")]
    [InlineData("a symbolic link")]
    [InlineData("a FIFO")]
    public async Task Anything_but_a_socket_at_the_path_is_refused_by_name_and_left_untouched(string kind)
    {
        using var directory = new SocketDirectory();
        string path = directory.PathOf("disk.sock");
        string stale = directory.PathOf("stale.sock");
        switch (kind)
        {
            case "a regular file":
                await File.WriteAllTextAsync(path, "the operator's notes");
                break;
            case "a directory":
                Directory.CreateDirectory(Path.Combine(path, "inside"));
                break;
            case "a symbolic link":
                // To a stale socket: followed, it would look replaceable; the link itself is not a socket.
                SocketDirectory.CreateStaleSocket(stale);
                File.CreateSymbolicLink(path, stale);
                break;
            case "a FIFO":
                await MakeFifoAsync(path); // opened, it would block the start
                break;
        }

        UnixFileStatus before = UnixFileStatus.Of(path)!.Value;

        IOException refused = Assert.Throws<IOException>(() => TestServer.StartOnUnixSocket(new MemoryBackend(), path));

        Assert.Contains($"{path} exists and is {kind}, not a socket", refused.Message, StringComparison.Ordinal);
        Assert.Equal(before, UnixFileStatus.Of(path));
        switch (kind)
        {
            case "a regular file":
                Assert.Equal("the operator's notes", await File.ReadAllTextAsync(path));
                break;
            case "a directory":
                Assert.True(Directory.Exists(Path.Combine(path, "inside")));
                break;
            case "a symbolic link":
                Assert.Equal(stale, File.ResolveLinkTarget(path, returnFinalTarget: false)?.FullName);
                Assert.Equal(UnixFileKind.Socket, UnixFileStatus.Of(stale)?.Kind);
                break;
        }
    }

    [Fact]
    public async Task A_path_another_server_listens_on_is_refused_and_that_server_keeps_it()
    {
        using var directory = new SocketDirectory();
        string path = directory.PathOf("disk.sock");
        await using TestServer first = TestServer.StartOnUnixSocket(new MemoryBackend(), path);
        UnixFileStatus before = UnixFileStatus.Of(path)!.Value;

        IOException refused = Assert.Throws<IOException>(() => TestServer.StartOnUnixSocket(new MemoryBackend(), path));

        Assert.Equal($"another server is listening on {path}", refused.Message);
        Assert.Equal(before, UnixFileStatus.Of(path));
        Assert.Equal(SocketError.Success, await ConnectAsync(path));
    }

    [Fact]
    public async Task The_socket_file_is_removed_on_stop()
    {
        using var directory = new SocketDirectory();
        string path = directory.PathOf("disk.sock");
        TestServer server = TestServer.StartOnUnixSocket(new MemoryBackend(), path);

        await server.DisposeAsync();

        Assert.Null(UnixFileStatus.Of(path));
    }

    [Fact]
    public async Task A_file_put_in_place_of_the_socket_is_left_alone_on_stop()
    {
        using var directory = new SocketDirectory();
        string path = directory.PathOf("disk.sock");
        TestServer server = TestServer.StartOnUnixSocket(new MemoryBackend(), path);
        File.Delete(path);
        await File.WriteAllTextAsync(path, "not the server's");

        await server.DisposeAsync();

        Assert.Equal("not the server's", await File.ReadAllTextAsync(path));
    }

    [Fact]
    public async Task Another_socket_put_in_place_of_the_server_s_is_left_alone_on_stop()
    {
        using var directory = new SocketDirectory();
        string path = directory.PathOf("disk.sock");
        TestServer server = TestServer.StartOnUnixSocket(new MemoryBackend(), path);

        // Moved aside rather than deleted, so the new socket cannot be given the same inode.
        File.Move(path, directory.PathOf("moved.sock"));
        SocketDirectory.CreateStaleSocket(path);
        UnixFileStatus other = UnixFileStatus.Of(path)!.Value;

        await server.DisposeAsync();

        Assert.Equal(other, UnixFileStatus.Of(path));
    }

    [Fact]
    public void A_path_too_long_for_a_socket_is_refused_naming_the_limit()
    {
        using var directory = new SocketDirectory();
        string fits = directory.PathOf(new string('s', NbdEndPoints.MaxUnixSocketPathBytes - directory.Location.Length - 1));
        string tooLong = fits + "s";

        Assert.Null(NbdEndPoints.UnixSocketPathProblem(fits));
        ArgumentException refused = Assert.Throws<ArgumentException>(() => NbdEndPoints.UnixSocket(tooLong));

        Assert.StartsWith($"the Unix socket path {tooLong} is 108 bytes long, past the limit of 107 bytes", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Only_an_ip_end_point_or_a_socket_path_is_taken()
    {
        ArgumentException dns = Assert.Throws<ArgumentException>(() => new NbdServer(new MemoryBackend(), new NbdServerOptions { EndPoint = new DnsEndPoint("localhost", 10809) }));
        Assert.Contains("must be an IPEndPoint (TCP) or a UnixDomainSocketEndPoint (a socket path), not a DnsEndPoint", dns.Message, StringComparison.Ordinal);

        ArgumentException @abstract = Assert.Throws<ArgumentException>(() => new NbdServer(new MemoryBackend(), new NbdServerOptions { EndPoint = new UnixDomainSocketEndPoint("\0replicator-nbd") }));
        Assert.Contains("an abstract or unnamed Unix socket address", @abstract.Message, StringComparison.Ordinal);
    }

    /// <summary>How a connect to <paramref name="path"/> ends; a server that accepts it sees the client close at once.</summary>
    private static async Task<SocketError> ConnectAsync(string path)
    {
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await client.ConnectAsync(new UnixDomainSocketEndPoint(path), Deadline.Token());
            return SocketError.Success;
        }
        catch (SocketException e)
        {
            return e.SocketErrorCode;
        }
    }

    private static async Task MakeFifoAsync(string path)
    {
        using Process mkfifo = Process.Start("mkfifo", [path]);
        await mkfifo.WaitForExitAsync(Deadline.Token());
        Assert.Equal(0, mkfifo.ExitCode);
    }
}
