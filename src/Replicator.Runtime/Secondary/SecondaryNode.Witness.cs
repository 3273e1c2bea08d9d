using System.Net.Sockets;
using Replicator.Hosts.Links;
using Replicator.Hosts.Secondary;
using Replicator.Protocol.Framing;
using Replicator.Runtime.Links;

namespace Replicator.Runtime.Secondary;

/// <summary>The witness's connection and the fence command: bytes and a process, as the host asks.</summary>
public sealed partial class SecondaryNode
{
    /// <summary>Connects to the witness with the pair key; its frames then reach the host as any link's do.</summary>
    private async Task ConnectWitnessAsync(TimeSpan timeout)
    {
        System.Net.IPEndPoint witness = _options.Witness ?? throw new InvalidOperationException("the host asked for a witness the node was not given");
        Socket socket;
        Stream stream;
        try
        {
            (socket, stream) = await LinkTransport.DialAsync(witness, _options.LinkKey, timeout, _options.LinkHandshakeTimeout, _time, _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or LinkAuthenticationException)
        {
            if (!_stopping.IsCancellationRequested)
            {
                Post(new SecondaryEvent(SecondaryEventKind.WitnessConnectFailed, Text: e.Message));
            }

            return;
        }

        var connection = new FrameConnection(socket, stream, LinkLimits.MaxBodyLength(_options.MaxRequestBytes, _options.RamBytes, _options.PageSize), _time);
        var link = new LinkId(Interlocked.Increment(ref _nextLink));
        _connections[link] = connection;
        connection.StartSending();
        Post(new SecondaryEvent(SecondaryEventKind.WitnessConnected, link));
        await ReceiveLoopAsync(link, connection).ConfigureAwait(false);
    }

    private async Task RunFenceAsync(FenceRequest request)
    {
        FenceOutcome outcome = await FenceCommandRunner.RunAsync(request, _time, _stopping.Token).ConfigureAwait(false);
        Post(new SecondaryEvent(outcome.Succeeded ? SecondaryEventKind.FenceSucceeded : SecondaryEventKind.FenceFailed, Text: outcome.Detail));
    }
}
