using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using Replicator.Nbd.Logging;
using Replicator.Nbd.Protocol;

namespace Replicator.Nbd.Server;

/// <summary>
/// One client connection from accept to close: the handshake (bounded by the negotiation timeout),
/// then transmission. Whatever ends it (disconnect, a protocol violation, the client vanishing, the
/// server stopping) is logged with its reason and stays inside this connection.
/// </summary>
[SuppressMessage("Design", "CA1001", Justification = "The connection disposes its abort source itself once its last request is back from the backend, which may be after it closed; no owner outside knows when that is.")]
internal sealed class NbdConnection
{
    private const int ReceiveBufferBytes = 64 << 10;

    private readonly long _id;
    private readonly Socket _socket;
    private readonly EndPoint? _remote;
    private readonly NbdServerContext _server;
    private readonly CancellationTokenSource _abort = new();

    public NbdConnection(long id, Socket socket, EndPoint? remote, NbdServerContext server)
    {
        _id = id;
        _socket = socket;
        _remote = remote;
        _server = server;
    }

    /// <summary>Set by the server when it starts the connection.</summary>
    public Task Completion { get; set; } = Task.CompletedTask;

    /// <summary>Stops waiting for in-flight requests: their replies are dropped and the socket closes at once.</summary>
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

    /// <summary>Runs the connection until its socket is closed; never throws. <paramref name="stopping"/> ends it gracefully.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        using var receiving = CancellationTokenSource.CreateLinkedTokenSource(stopping, _abort.Token);
        var network = new NetworkStream(_socket, ownsSocket: true);
        var input = new BufferedStream(network, ReceiveBufferBytes);
        NbdTransmission? transmission = null;
        ConnectionEnd end = ConnectionEnd.DropRequests;
        try
        {
            _server.Logger.Accepted(_id, _remote);
            (NegotiationOutcome outcome, NegotiatedFeatures features) = await NegotiateAsync(input, network, receiving.Token).ConfigureAwait(false);
            if (outcome != NegotiationOutcome.Transmission)
            {
                return;
            }

            var budget = new InFlightBudget(_server.Options.MaxInFlightRequests, _server.Options.MaxInFlightBytes);
            transmission = new NbdTransmission(_id, input, network, _server.Backend, _server.Export, features, budget, _server.InFlight, _server.Logger, _abort);
            string reason = await transmission.ReceiveAsync(receiving.Token).ConfigureAwait(false);
            _server.Logger.Closed(_id, reason);
            end = ConnectionEnd.FinishRequests;
        }
        catch (NbdProtocolViolationException ex)
        {
            // The client is there and may still read the replies to what it sent before.
            if (transmission is null)
            {
                _server.Refusals.Handshake();
            }

            _server.Logger.Violation(_id, ex.Message);
            end = ConnectionEnd.FinishRequests;
        }
        catch (EndOfStreamException)
        {
            _server.Logger.Closed(_id, transmission is null ? "the client closed the connection during the handshake" : "the client closed the connection without NBD_CMD_DISC; requests in flight are dropped");
        }
        catch (Exception ex) when (stopping.IsCancellationRequested && !_abort.IsCancellationRequested && ex is OperationCanceledException or IOException or SocketException)
        {
            _server.Logger.Closed(_id, transmission is null ? "the server is stopping (in the handshake)" : "the server is stopping; requests already received finish first");
            end = ConnectionEnd.FinishRequests;
        }
        catch (Exception ex) when (_abort.IsCancellationRequested && ex is OperationCanceledException or IOException or SocketException)
        {
            _server.Logger.Closed(_id, transmission is null ? "the connection was aborted (in the handshake)" : "the connection was aborted; requests in flight are dropped");
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            _server.Logger.Closed(_id, $"connection error: {ex.Message}; requests in flight are dropped");
        }
#pragma warning disable CA1031 // A connection's failure must never reach the server or the other connections.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _server.Logger.ConnectionFailed(_id, ex);
        }
        finally
        {
            await CloseAsync(network, input, transmission, end).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The handshake, bounded by <see cref="NbdServerOptions.NegotiationTimeout"/> from the moment the
    /// connection was accepted: a client that connects and haggles (or says nothing) past it is closed.
    /// </summary>
    private async Task<(NegotiationOutcome Outcome, NegotiatedFeatures Features)> NegotiateAsync(Stream input, Stream output, CancellationToken receiving)
    {
        // Armed before the greeting goes out, and disarmed (disposed) once the handshake is over.
        using var deadline = new CancellationTokenSource(_server.Options.NegotiationTimeout, _server.Time);
        using var negotiating = CancellationTokenSource.CreateLinkedTokenSource(receiving, deadline.Token);
        var negotiation = new NbdNegotiation(input, output, _server.Export);
        NegotiationOutcome outcome;
        try
        {
            outcome = await negotiation.RunAsync(negotiating.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (deadline.IsCancellationRequested && !receiving.IsCancellationRequested && ex is OperationCanceledException or IOException or SocketException)
        {
            outcome = NegotiationOutcome.TimedOut;
        }

        switch (outcome)
        {
            case NegotiationOutcome.Transmission:
                _server.Logger.Negotiated(_id, _server.Export.Name, negotiation.SelectedBy == NbdOption.Go ? "NBD_OPT_GO" : "NBD_OPT_EXPORT_NAME", negotiation.Features.StructuredReplies, negotiation.Features.AllocationContext);
                break;
            case NegotiationOutcome.Aborted:
                _server.Logger.Closed(_id, "the client aborted the handshake (NBD_OPT_ABORT)");
                break;
            case NegotiationOutcome.TimedOut:
            default:
                _server.Refusals.Handshake();
                if (_server.NegotiationTimeouts.ShouldReport(out int heldBack))
                {
                    _server.Logger.NegotiationTimedOut(_id, _remote, _server.Options.NegotiationTimeout, heldBack);
                }

                break;
        }

        return (outcome, negotiation.Features);
    }

    private async Task CloseAsync(NetworkStream network, BufferedStream input, NbdTransmission? transmission, ConnectionEnd end)
    {
        if (transmission is null)
        {
            Close(network);
            await input.DisposeAsync().ConfigureAwait(false);
            _abort.Dispose();
            return;
        }

        if (end == ConnectionEnd.DropRequests)
        {
            // Cancels the backend calls and any reply still being written: nothing can reach the client.
            Abort();
        }

        bool idle = await FinishRequestsAsync(transmission).ConfigureAwait(false);
        Close(network);
        await input.DisposeAsync().ConfigureAwait(false);
        if (idle)
        {
            transmission.Dispose();
            _abort.Dispose();
        }
        else
        {
            // Requests dropped on abort still hold the send lock and the abort token until the backend
            // returns them; the connection is gone from the server meanwhile, and they clean up after.
            _ = DisposeWhenIdleAsync(transmission);
        }
    }

    /// <summary>
    /// Lets every received request reply before the socket closes, unless the connection is (or gets)
    /// aborted; true when nothing is left in flight.
    /// </summary>
    private async Task<bool> FinishRequestsAsync(NbdTransmission transmission)
    {
        try
        {
            await transmission.WhenIdleAsync(_abort.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task DisposeWhenIdleAsync(NbdTransmission transmission)
    {
        await transmission.WhenIdleAsync(CancellationToken.None).ConfigureAwait(false);
        transmission.Dispose();
        _abort.Dispose();
    }

    private void Close(NetworkStream network)
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already reset or closed by the peer.
        }

        network.Dispose();
        _socket.Dispose();
    }
}
