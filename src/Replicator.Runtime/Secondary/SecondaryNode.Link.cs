using System.Buffers;
using Replicator.Core.Epochs;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using Replicator.Runtime.Links;

namespace Replicator.Runtime.Secondary;

/// <summary>The link: handshake, then frames into events. A bad frame closes the link and commits nothing of it.</summary>
public sealed partial class SecondaryNode
{
    private async Task ServeLinkAsync(FrameConnection connection)
    {
        try
        {
            await ServeLinkCoreAsync(connection).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // A link's task runs unobserved: anything unexpected is logged, never lost.
            Log.LinkFailed(_log, connection.RemoteEndPoint, e.ToString());
            throw;
        }
    }

    private async Task ServeLinkCoreAsync(FrameConnection connection)
    {
        string? closeReason = null;
        try
        {
            HelloMessage? hello = await connection.ReceiveOneAsync(DecodeHello, _stopping.Token)
                .WaitAsync(_options.HeartbeatTimeout, _time, _stopping.Token).ConfigureAwait(false);
            if (hello is null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                return;
            }

            PairIdentity local = LocalIdentity();
            HandshakeVerdict verdict = Handshake.Check(hello.ProtocolVersion, hello.Identity, local);

            // I6: a node that took over never follows the old primary again, and tells it so (fenced).
            if (verdict.IsAccepted && (_engine!.Phase is Core.Secondary.SecondaryPhase.Promoting or Core.Secondary.SecondaryPhase.Promoted || _store!.State.Role != NodeRole.Secondary))
            {
                verdict = HandshakeVerdict.Fenced("this node has been promoted: it follows no primary any more");
            }

            string? refusal = verdict.Reason
                ?? (_link is { IsClosed: false } ? $"a primary is already connected from {_link.RemoteEndPoint}" : null);
            if (refusal is not null)
            {
                Log.HandshakeRefused(_log, connection.RemoteEndPoint, refusal);
                await connection.CloseAsync(refusal, verdict.Outcome == HandshakeOutcome.Fenced).ConfigureAwait(false);
                await connection.DisposeAsync().ConfigureAwait(false);
                if (verdict.Outcome == HandshakeOutcome.Incompatible)
                {
                    _fatal.TrySetResult($"refused a primary from {connection.RemoteEndPoint}: {refusal}");
                }

                return;
            }

            if (Interlocked.CompareExchange(ref _link, connection, null) is { } other)
            {
                await connection.CloseAsync($"a primary is already connected from {other.RemoteEndPoint}").ConfigureAwait(false);
                await connection.DisposeAsync().ConfigureAwait(false);
                return;
            }

            // The engine's state is read on its own loop, so epoch, sequence and free space agree.
            // The loop sends it, so nothing of the loop's (acknowledgements, credit) can precede it.
            var welcome = new TaskCompletionSource<WelcomeMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
            Post(new SecondaryEvent(SecondaryEventKind.Welcome, Welcome: welcome, Link: connection));
            await welcome.Task.WaitAsync(_stopping.Token).ConfigureAwait(false);
            Log.PrimaryConnected(_log, connection.RemoteEndPoint, hello.Identity.ToString());
            await connection.ReceiveAsync(frame => OnFrame(frame, connection), _stopping.Token).ConfigureAwait(false);
            closeReason = "the primary closed the link";
        }
        catch (ProtocolViolationException e)
        {
            closeReason = e.Message;
            Log.ProtocolViolation(_log, connection.RemoteEndPoint, e.Message);
            await connection.CloseAsync(e.Message).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            closeReason = "no hello within the heartbeat timeout";
            await connection.CloseAsync(closeReason).ConfigureAwait(false);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            closeReason = e.Message;
        }

        // Only this task replaces its own link, so checking then clearing is safe; the event goes out
        // first, so a new primary's welcome always follows this link's last events on the loop.
        if (Volatile.Read(ref _link) == connection)
        {
            Interlocked.Exchange(ref _lastPrimaryContact, connection.LastReceived);
            Post(new SecondaryEvent(SecondaryEventKind.LinkClosed, Reason: closeReason));
            Interlocked.Exchange(ref _link, null);
        }

        await connection.DisposeAsync().ConfigureAwait(false);
    }

    private static HelloMessage DecodeHello(Frame frame)
    {
        HelloMessage hello = ControlCodec.Decode<HelloMessage>(frame, FrameType.Hello);
        return hello.Identity?.PairId is null ? throw new ProtocolViolationException("the hello carries no pair identity") : hello;
    }

    private PairIdentity LocalIdentity() => new()
    {
        PairId = _options.PairId,
        ImageBytes = _store!.Image.Size,
        BlockSize = _options.BlockSize,
        MaxRequestBytes = _options.MaxRequestBytes,
        Generation = _store.State.Generation,
    };

    /// <summary>Runs on the receive loop: decode, copy what is kept into pooled memory, and hand it to the engine's loop.</summary>
    private bool OnFrame(Frame frame, FrameConnection connection)
    {
        try
        {
            return HandleFrame(frame, connection);
        }
        catch (Exception e) when (e is not ProtocolViolationException)
        {
            // Whatever a peer's bytes make the decoders throw is bad input: close this link, nothing else.
            throw new ProtocolViolationException($"frame {frame.Header.LinkSequence} ({frame.Type}) is malformed: {e.Message}", e);
        }
    }

    // Payloads live from their frame until their epoch is applied; their owners are reused too.
    private static readonly PayloadPool ReceivedPayloads = new();

    private bool HandleFrame(Frame frame, FrameConnection connection)
    {
        switch (frame.Type)
        {
            case FrameType.ResyncStart:
                Post(new SecondaryEvent(SecondaryEventKind.ResyncStart, ResyncStart: ControlCodec.Decode<ResyncStartMessage>(frame, FrameType.ResyncStart), Link: connection));
                return true;
            case FrameType.Mirror:
                MirrorRecord record = MirrorDecoder.Decode(frame, ReceivedPayloads, out IMemoryOwner<byte>? owner);
                Post(new SecondaryEvent(SecondaryEventKind.Mirror, record, owner));
                return true;
            case FrameType.Checkpoint:
                CheckpointRecord checkpoint = ControlCodec.Decode<CheckpointMessage>(frame, FrameType.Checkpoint).ToRecord();
                Post(new SecondaryEvent(SecondaryEventKind.Checkpoint, Checkpoint: checkpoint, Stamps: new EpochStamps(Received: _time.GetTimestamp())));
                return true;
            case FrameType.Heartbeat:
                return true;
            case FrameType.Error:
                Log.PeerError(_log, ControlCodec.Decode<ErrorMessage>(frame, FrameType.Error).Reason);
                return false;
            default:
                throw new ProtocolViolationException($"frame {frame.Header.LinkSequence}: a primary does not send {frame.Type}");
        }
    }
}
