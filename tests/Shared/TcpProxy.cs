using System.Net;
using System.Net.Sockets;

namespace Replicator.Testing;

/// <summary>
/// A forwarding proxy on 127.0.0.1 between primary and secondary, so a test can cut the link (and
/// heal it), point it at a restarted secondary, or damage one byte of what the primary sends, as a
/// bad network would. Shared by the runtime and end-to-end tests (linked into both).
/// </summary>
internal sealed class TcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Socket> _sockets = new();
    private readonly Task _accept;
    private int _corruptArmed;
    private volatile bool _down;

    public TcpProxy(IPEndPoint target)
    {
        Target = target;
        _listener.Start();
        _accept = AcceptAsync();
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

    public int Port => EndPoint.Port;

    /// <summary>Where new connections go.</summary>
    public IPEndPoint Target { get; set; }

    /// <summary>Flips one bit in the next chunk the primary sends that is large enough to carry block data.</summary>
    public void CorruptNextDataChunk() => Interlocked.Exchange(ref _corruptArmed, 1);

    /// <summary>
    /// Cuts every connection at once, as a pulled cable would; until <see cref="Heal"/>, new
    /// connections are closed as soon as they arrive.
    /// </summary>
    public void Cut()
    {
        _down = true;
        lock (_sockets)
        {
            foreach (Socket socket in _sockets)
            {
                socket.Dispose();
            }

            _sockets.Clear();
        }
    }

    /// <summary>The cable is back: new connections go through again.</summary>
    public void Heal() => _down = false;

    public async ValueTask DisposeAsync()
    {
        _stopping.Cancel();
        Cut();
        _listener.Stop();
        try
        {
            await _accept;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stopping.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client = await _listener.AcceptSocketAsync(_stopping.Token);
            if (_down)
            {
                client.Dispose();
                continue;
            }

            var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await server.ConnectAsync(Target, _stopping.Token);
            }
            catch (SocketException)
            {
                // The secondary is down: the primary sees its connection closed and tries again later.
                client.Dispose();
                server.Dispose();
                continue;
            }

            lock (_sockets)
            {
                _sockets.Add(client);
                _sockets.Add(server);
            }

            _ = PumpAsync(client, server, fromPrimary: true);
            _ = PumpAsync(server, client, fromPrimary: false);
        }
    }

    private async Task PumpAsync(Socket from, Socket to, bool fromPrimary)
    {
        byte[] buffer = new byte[64 * 1024];
        try
        {
            int read;
            while ((read = await from.ReceiveAsync(buffer, SocketFlags.None, _stopping.Token)) > 0)
            {
                if (fromPrimary && read > 1024 && Interlocked.Exchange(ref _corruptArmed, 0) == 1)
                {
                    buffer[read - 1] ^= 0x01;
                }

                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stopping.Token);
            }

            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            from.Dispose();
            to.Dispose();
        }
    }
}
