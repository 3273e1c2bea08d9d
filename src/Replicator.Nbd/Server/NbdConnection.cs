using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Replicator.Nbd.Logging;
using Replicator.Nbd.Protocol;

namespace Replicator.Nbd.Server;

/// <summary>
/// One client connection from accept to close: the handshake, then transmission. Whatever ends it
/// (disconnect, a protocol violation, the client vanishing, the server stopping) is logged with its
/// reason and stays inside this connection.
/// </summary>
internal sealed class NbdConnection : IDisposable
{
    private const int ReceiveBufferBytes = 64 << 10;

    private readonly long _id;
    private readonly Socket _socket;
    private readonly INbdBackend _backend;
    private readonly NbdExport _export;
    private readonly NbdServerOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _abort = new();

    public NbdConnection(long id, Socket socket, INbdBackend backend, NbdExport export, NbdServerOptions options, ILogger logger)
    {
        _id = id;
        _socket = socket;
        _backend = backend;
        _export = export;
        _options = options;
        _logger = logger;
    }

    /// <summary>Set by the server when it starts the connection.</summary>
    public Task Completion { get; set; } = Task.CompletedTask;

    /// <summary>Stops waiting for in-flight requests: their replies are dropped and the socket closes.</summary>
    public void Abort()
    {
        try
        {
            _abort.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The connection had already finished.
        }
    }

    /// <summary>Runs the connection to its end; never throws. <paramref name="stopping"/> ends it gracefully.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        _logger.Accepted(_id, _socket.RemoteEndPoint);
        using var receiving = CancellationTokenSource.CreateLinkedTokenSource(stopping, _abort.Token);
        var network = new NetworkStream(_socket, ownsSocket: true);
        var input = new BufferedStream(network, ReceiveBufferBytes);
        NbdTransmission? transmission = null;
        try
        {
            var negotiation = new NbdNegotiation(input, network, _export);
            NegotiationOutcome outcome = await negotiation.RunAsync(receiving.Token).ConfigureAwait(false);
            if (outcome == NegotiationOutcome.Aborted)
            {
                _logger.Closed(_id, "the client aborted the handshake (NBD_OPT_ABORT)");
                return;
            }

            _logger.Negotiated(_id, _export.Name, negotiation.SelectedBy == NbdOption.Go ? "NBD_OPT_GO" : "NBD_OPT_EXPORT_NAME");
            var budget = new InFlightBudget(_options.MaxInFlightRequests, _options.MaxInFlightBytes);
            transmission = new NbdTransmission(_id, input, network, _backend, _export, budget, _logger, _abort);
            string reason = await transmission.ReceiveAsync(receiving.Token).ConfigureAwait(false);
            _logger.Closed(_id, reason);
        }
        catch (NbdProtocolViolationException ex)
        {
            _logger.Violation(_id, ex.Message);
        }
        catch (EndOfStreamException)
        {
            _logger.Closed(_id, transmission is null ? "the client closed the connection during the handshake" : "the client closed the connection without NBD_CMD_DISC");
        }
        catch (Exception ex) when (receiving.IsCancellationRequested && ex is OperationCanceledException or IOException or SocketException)
        {
            string why = stopping.IsCancellationRequested ? "the server is stopping" : "the connection was aborted";
            _logger.Closed(_id, transmission is null ? $"{why} (in the handshake)" : $"{why}; requests already received finish first");
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            _logger.Closed(_id, $"connection error: {ex.Message}");
        }
#pragma warning disable CA1031 // A connection's failure must never reach the server or the other connections.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _logger.ConnectionFailed(_id, ex);
        }
        finally
        {
            if (transmission is not null)
            {
                await FinishRequestsAsync(transmission).ConfigureAwait(false);
            }

            Close(network);
            await input.DisposeAsync().ConfigureAwait(false);
            transmission?.Dispose();
        }
    }

    public void Dispose() => _abort.Dispose();

    /// <summary>Lets every received request reply before the socket closes, unless the connection is aborted.</summary>
    private async Task FinishRequestsAsync(NbdTransmission transmission)
    {
        try
        {
            await transmission.WhenIdleAsync(_abort.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Aborted: close first so pending sends fail fast, then wait for the backend to give
            // back the buffers it is still using.
            Close(null);
            await transmission.WhenIdleAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    private void Close(NetworkStream? network)
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already reset or closed by the peer.
        }

        network?.Dispose();
        _socket.Dispose();
    }
}
