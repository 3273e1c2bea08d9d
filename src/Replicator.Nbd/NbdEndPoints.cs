using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Replicator.Nbd;

/// <summary>
/// The two places an <see cref="NbdServer"/> listens: a TCP address and port
/// (<see cref="IPEndPoint"/>), or a Unix socket path (<see cref="UnixDomainSocketEndPoint"/>, for
/// clients on the same host), checked and shown the same way by every caller.
/// </summary>
public static class NbdEndPoints
{
    /// <summary>The longest Unix socket path, in UTF-8 bytes: sockaddr_un's 108 less the terminating NUL.</summary>
    public const int MaxUnixSocketPathBytes = 107;

    /// <summary>What marks a Unix socket path in <see cref="Describe"/>, as on the daemons' <c>--nbd unix:PATH</c>.</summary>
    public const string UnixPrefix = "unix:";

    /// <summary>Why <paramref name="path"/> cannot name a Unix socket (empty, a NUL in it, too long), or null when it can.</summary>
    public static string? UnixSocketPathProblem(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0)
        {
            return "the Unix socket path is empty";
        }

        if (path.Contains('\0', StringComparison.Ordinal))
        {
            return $"the Unix socket path '{path}' contains a NUL character";
        }

        int bytes = Encoding.UTF8.GetByteCount(path);
        return bytes > MaxUnixSocketPathBytes
            ? $"the Unix socket path {path} is {bytes} bytes long, past the limit of {MaxUnixSocketPathBytes} bytes (sockaddr_un); choose a shorter path"
            : null;
    }

    /// <summary>The end point of the Unix socket at <paramref name="path"/>; throws <see cref="ArgumentException"/> saying why when the path cannot name one.</summary>
    public static UnixDomainSocketEndPoint UnixSocket(string path) =>
        UnixSocketPathProblem(path) is { } problem ? throw new ArgumentException(problem, nameof(path)) : new UnixDomainSocketEndPoint(path);

    /// <summary><c>unix:PATH</c> for a Unix socket, <c>HOST:PORT</c> for TCP: how logs, status and answers show where a server listens.</summary>
    public static string Describe(EndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        return endPoint is UnixDomainSocketEndPoint ? UnixPrefix + endPoint : endPoint.ToString() ?? endPoint.GetType().Name;
    }

    /// <summary>The file a Unix socket end point names; null for an abstract or unnamed address, which has no file to make owner-only.</summary>
    internal static string? PathOf(UnixDomainSocketEndPoint endPoint)
    {
        // sun_path follows the two bytes of sun_family: an abstract name starts with a NUL, an unnamed address is empty.
        SocketAddress address = endPoint.Serialize();
        return address.Size > 2 && address[2] != 0 ? endPoint.ToString() : null;
    }
}
