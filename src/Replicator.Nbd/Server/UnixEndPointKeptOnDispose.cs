using System.Net;
using System.Net.Sockets;

namespace Replicator.Nbd.Server;

/// <summary>
/// A Unix socket path to bind to whose file the <see cref="Socket"/> leaves alone when it is disposed.
/// A socket bound to a <see cref="UnixDomainSocketEndPoint"/> deletes whatever is at that path on
/// dispose, even when the file is no longer its own (another server's socket, a file put there
/// since); the server removes its socket file itself, and only when it still is that file
/// (<see cref="UnixSocketFile"/>). The address bound is the same; the socket's local and remote end
/// points are still <see cref="UnixDomainSocketEndPoint"/>s.
/// </summary>
internal sealed class UnixEndPointKeptOnDispose(UnixDomainSocketEndPoint path) : EndPoint
{
    public override AddressFamily AddressFamily => AddressFamily.Unix;

    public override SocketAddress Serialize() => path.Serialize();

    public override EndPoint Create(SocketAddress socketAddress) => path.Create(socketAddress);

    public override string ToString() => path.ToString();
}
