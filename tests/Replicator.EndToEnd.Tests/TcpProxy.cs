using System.Net;
using System.Net.Sockets;

namespace Replicator.EndToEnd.Tests;

/// <summary>
/// A forwarding proxy on 127.0.0.1 between primary and secondary, so a test can cut the link or
/// damage one byte of what the primary sends, as a bad network would.
/// </summary>
internal sealed class TcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _cut = new();
    private readonly List<Socket> _sockets = new();
    private readonly Task _accept;
    private int _corruptArmed;

    public TcpProxy(int targetPort)
    {
        _target = new IPEndPoint(IPAddress.Loopback, targetPort);
        _listener.Start();
        _accept = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Flips one bit in the next chunk the primary sends that is large enough to carry block data.</summary>
    public void CorruptNextDataChunk() => Interlocked.Exchange(ref _corruptArmed, 1);

    /// <summary>Cuts every connection at once, as a pulled cable would.</summary>
    public void Cut()
    {
        _cut.Cancel();
        lock (_sockets)
        {
            foreach (Socket socket in _sockets)
            {
                socket.Dispose();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Cut();
        _listener.Stop();
        try
        {
            await _accept;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _cut.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_cut.IsCancellationRequested)
        {
            Socket client = await _listener.AcceptSocketAsync(_cut.Token);
            var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await server.ConnectAsync(_target, _cut.Token);
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
            while ((read = await from.ReceiveAsync(buffer, SocketFlags.None, _cut.Token)) > 0)
            {
                if (fromPrimary && read > 1024 && Interlocked.Exchange(ref _corruptArmed, 0) == 1)
                {
                    buffer[read - 1] ^= 0x01;
                }

                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _cut.Token);
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
