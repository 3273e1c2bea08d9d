using System.Net;
using System.Net.Sockets;

namespace Replicator.Runtime.Tests.Links;

/// <summary>Two connected TCP sockets on 127.0.0.1, for the link's tests.</summary>
internal static class LoopbackSockets
{
    public static async Task<(Socket Client, Socket Server)> ConnectedPair()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        Task<Socket> accepted = listener.AcceptSocketAsync();
        await client.ConnectAsync((IPEndPoint)listener.LocalEndpoint);
        return (client, await accepted);
    }
}
