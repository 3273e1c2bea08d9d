using System.Net.Sockets;

namespace Replicator.Nbd.Server;

/// <summary>
/// The socket file of a server listening on a Unix socket path: created owner-only (mode 0600)
/// before anyone can connect, put in place of a stale socket a crashed server left (and of nothing
/// else), and removed on stop only while it is still this server's file.
/// </summary>
internal sealed class UnixSocketFile
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly UnixFileStatus _identity;

    private UnixSocketFile(string path, UnixFileStatus identity)
    {
        Path = path;
        _identity = identity;
    }

    /// <summary>The path the server listens on, as it was given (relative to the working directory when relative).</summary>
    public string Path { get; }

    /// <summary>
    /// Binds a socket to <paramref name="path"/>, makes the file owner-only, then listens. Until
    /// listen a connect is refused, whatever the file's mode, so no client ever connects through a
    /// wider mode. Throws <see cref="IOException"/> naming the path when another server listens
    /// there, when something other than a socket is there (left untouched), or when the bind fails.
    /// </summary>
    public static Socket Listen(string path, int backlog, out UnixSocketFile file)
    {
        if (!OperatingSystem.IsLinux())
        {
            // The file type and identity come from statx, Linux's own call.
            throw new PlatformNotSupportedException($"an NBD server listens on a Unix socket path ({path}) only on Linux");
        }

        RemoveStaleSocket(path);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        UnixSocketFile? bound = null;
        try
        {
            socket.Bind(new UnixEndPointKeptOnDispose(new UnixDomainSocketEndPoint(path)));

            // Taken at once, before anything else could replace the file: what stop later checks.
            bound = new UnixSocketFile(path, UnixFileStatus.Of(path) ?? throw new IOException($"the socket file {path} vanished as soon as it was bound"));
            File.SetUnixFileMode(path, OwnerOnly);
            socket.Listen(backlog);
            file = bound;
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            bound?.Remove();
            throw new IOException($"cannot listen on the Unix socket {path}: {e.Message}", e);
        }
        catch
        {
            socket.Dispose();
            bound?.Remove();
            throw;
        }
    }

    /// <summary>Deletes the socket file if the path still names the very file this server bound; anything else there is left alone.</summary>
    public void Remove()
    {
        try
        {
            if (UnixFileStatus.Of(Path) == _identity)
            {
                File.Delete(Path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Stopping goes on: a socket file left behind is stale, and the next start replaces it.
        }
    }

    /// <summary>
    /// Makes way for the bind: nothing to do when the path is free; a socket nobody accepts on (a
    /// crashed server's) is deleted. Anything else refuses the start, and nothing is deleted.
    /// </summary>
    private static void RemoveStaleSocket(string path)
    {
        UnixFileStatus? existing = UnixFileStatus.Of(path);
        if (existing is null)
        {
            return;
        }

        // A connect to a file that is not a socket is refused too: only the file type tells them apart.
        if (existing.Value.Kind != UnixFileKind.Socket)
        {
            throw new IOException($"{path} exists and is {Describe(existing.Value.Kind)}, not a socket: the NBD server does not replace it; remove it or listen elsewhere");
        }

        switch (Probe(path))
        {
            case SocketError.ConnectionRefused:
                File.Delete(path); // stale: left by a server that died without removing it
                return;
            case SocketError.AddressNotAvailable:
                return; // gone since the look above (ENOENT)
            case SocketError.Success or SocketError.WouldBlock or SocketError.InProgress:
                throw new IOException($"another server is listening on {path}");
            case SocketError error:
                throw new IOException($"{path} is a socket, and whether a server listens on it cannot be told ({error}); it is left as it is");
        }
    }

    /// <summary>How a connect to <paramref name="path"/> ends, without waiting: refused, accepted, or would wait (a listener with a full backlog).</summary>
    private static SocketError Probe(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { Blocking = false };
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return SocketError.Success;
        }
        catch (SocketException e)
        {
            return e.SocketErrorCode;
        }
    }

    private static string Describe(UnixFileKind kind) => kind switch
    {
        UnixFileKind.RegularFile => "a regular file",
        UnixFileKind.Directory => "a directory",
        UnixFileKind.SymbolicLink => "a symbolic link",
        UnixFileKind.Fifo => "a FIFO",
        UnixFileKind.CharacterDevice => "a character device",
        UnixFileKind.BlockDevice => "a block device",
        _ => "a file of an unknown type",
    };
}
