using System.Net.Sockets;

namespace Replicator.Runtime.Links;

/// <summary>
/// A listener's accept loop, shared by the daemons that take connections: each accepted connection
/// takes one of a bounded number of places (or is closed at once, and the refusal reported), and is
/// handed to <c>serve</c>, which gives its place back when it is done with it. A failed accept (out
/// of descriptors, a connection reset before it was taken) is reported and retried after a pause,
/// never the end of listening.
/// </summary>
internal sealed class ConnectionAcceptor(int places, string boundOption, TimeProvider time)
{
    /// <summary>How long the loop waits after the system refused to accept before it tries again.</summary>
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(100);

    private int _taken;

    /// <summary>Places taken now.</summary>
    public int Taken => Volatile.Read(ref _taken);

    /// <summary>Gives a place back (once per connection handed to <c>serve</c>).</summary>
    public void Release() => Interlocked.Decrement(ref _taken);

    /// <summary>Accepts until <paramref name="stopping"/> or the listener is stopped.</summary>
    public async Task RunAsync(TcpListener listener, Func<Socket, string, Task> serve, Action<string, string> refused, CancellationToken stopping)
    {
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(serve);
        ArgumentNullException.ThrowIfNull(refused);
        while (!stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptSocketAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                refused("?", $"accept failed: {e.Message}");
                try
                {
                    await Task.Delay(RetryDelay, time, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            string peer = socket.RemoteEndPoint?.ToString() ?? "?";
            if (Interlocked.Increment(ref _taken) > places)
            {
                Interlocked.Decrement(ref _taken);
                socket.Dispose();
                refused(peer, $"{places} connections are already {boundOption}");
                continue;
            }

            _ = serve(socket, peer);
        }
    }
}
