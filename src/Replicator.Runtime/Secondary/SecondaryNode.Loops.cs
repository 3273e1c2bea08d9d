using System.Threading.Channels;
using Replicator.Hosts.Links;
using Replicator.Hosts.Secondary;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using Replicator.Runtime.Links;

namespace Replicator.Runtime.Secondary;

/// <summary>The host's loop, the storage lanes, each link's receive loop, and the host's actions.</summary>
public sealed partial class SecondaryNode
{
    // A clean stop's answer, completed once the host says everything committed is in the image.
    private TaskCompletionSource<string?>? _drained;

    private async Task EventLoopAsync()
    {
        await foreach (SecondaryEvent e in _events.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            switch (e.Kind)
            {
                case SecondaryEventKind.Connected:
                    _host.OnLinkConnected(e.Link, e.Text!);
                    break;
                case SecondaryEventKind.Input:
                    _host.OnInput(e.Link, e.Input);
                    break;
                case SecondaryEventKind.Closed:
                    _host.OnLinkClosed(e.Link, e.Text!);
                    break;
                case SecondaryEventKind.StorageCompleted:
                    _host.OnStorageCompleted(e.Completion);
                    break;
                case SecondaryEventKind.HeartbeatTick:
                    foreach ((LinkId link, FrameConnection connection) in _connections)
                    {
                        if (connection.TakeFrameArriving())
                        {
                            _host.OnFrameArriving(link);
                        }
                    }

                    _host.OnHeartbeatTick();
                    break;
                case SecondaryEventKind.Promote:
                    e.Answer?.TrySetResult(_host.Promote(e.Text!));
                    break;
                case SecondaryEventKind.WitnessConnected:
                    _host.OnWitnessConnected(e.Link);
                    break;
                case SecondaryEventKind.WitnessConnectFailed:
                    _host.OnWitnessConnectFailed(e.Text!);
                    break;
                case SecondaryEventKind.FenceSucceeded or SecondaryEventKind.FenceFailed:
                    _host.OnFenceCompleted(e.Kind == SecondaryEventKind.FenceSucceeded, e.Text!);
                    break;
                case SecondaryEventKind.Stop:
                    _host.BeginStop();
                    _drained = e.Answer;
                    break;
            }

            if (_drained is not null && _host.IsDrained)
            {
                _drained.TrySetResult(null);
                _drained = null;
            }
        }
    }

    private async Task StorageLaneAsync(ChannelReader<SecondaryStorageOperation> operations)
    {
        await foreach (SecondaryStorageOperation op in operations.ReadAllAsync().ConfigureAwait(false))
        {
            SecondaryStorageCompletion completion = _host.Storage.Run(op);
            // After a failed apply the worker skips the rest of the lane; the host stops the node.
            if (completion.MattersToHost)
            {
                Post(new SecondaryEvent(SecondaryEventKind.StorageCompleted, Completion: completion));
            }
        }
    }

    private async Task ReceiveLoopAsync(LinkId link, FrameConnection connection)
    {
        string reason = "the primary closed the link";
        try
        {
            await connection.ReceiveAsync(frame => OnFrame(link, frame), _stopping.Token).ConfigureAwait(false);
        }
        catch (ProtocolViolationException e)
        {
            // A damaged frame: the host never sees it; the link closes with the reason.
            reason = e.Message;
            await connection.CloseAsync(e.Message).ConfigureAwait(false);
        }
        catch (IOException e) when (e.InnerException is not System.Net.Sockets.SocketException && connection.IsAuthenticated)
        {
            // Not the network failing but a record whose authentication tag did not match: bytes
            // changed, replayed or forged in transit. Nothing of it was read as a frame.
            reason = $"the link's bytes failed TLS authentication (changed, replayed or forged in transit): {e.Message}";
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            reason = e.Message;
        }
        catch (Exception e)
        {
            // A link's task runs unobserved: anything unexpected is logged, never lost.
            Log.LinkFailed(_log, connection.RemoteEndPoint, e.ToString());
            reason = e.Message;
        }

        _connections.TryRemove(link, out _);
        Post(new SecondaryEvent(SecondaryEventKind.Closed, link, Text: reason));
        await connection.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>On the receive loop: decode (copying what is kept into pooled memory) and hand it to the host's loop.</summary>
    private bool OnFrame(LinkId link, in Frame frame)
    {
        SecondaryInput input = SecondaryFrameDecoder.Decode(frame, _time.GetTimestamp());
        Post(new SecondaryEvent(SecondaryEventKind.Input, link, input));

        // Nothing after a frame that could not be read is taken from this link.
        return input.Kind is not (SecondaryInputKind.Malformed or SecondaryInputKind.PeerError);
    }

    /// <summary>The host's actions: frames to the link's connection, storage work to its lane.</summary>
    private sealed class Actions(SecondaryNode node) : ISecondaryHostActions
    {
        public void Send<T>(LinkId link, FrameType type, T message)
        {
            if (node._connections.TryGetValue(link, out FrameConnection? connection))
            {
                connection.SendControl(type, message);
            }
        }

        public void Close(LinkId link, string reason, bool fenced = false)
        {
            if (node._connections.TryGetValue(link, out FrameConnection? connection))
            {
                _ = connection.CloseAsync(reason, fenced);
            }
        }

        public void RunStorage(in SecondaryStorageOperation operation)
        {
            ChannelWriter<SecondaryStorageOperation> lane = operation.Lane == SecondaryStorageLane.Journal ? node._journal.Writer : node._apply.Writer;
            lane.TryWrite(operation);
        }

        public void Promoted(long epoch) => node._promoted.TrySetResult(epoch);

        public void ConnectWitness(TimeSpan timeout) => _ = node.ConnectWitnessAsync(timeout);

        public void RunFence(FenceRequest request) => _ = node.RunFenceAsync(request);

        public void Halt(string reason) => node._fatal.TrySetResult(reason);

        public void PromotionRefused(string reason) => Interlocked.Exchange(ref node._operatorFailover, null)?.TrySetResult(reason);
    }
}
