using System.Buffers;
using Replicator.Core.Epochs;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Secondary;

/// <summary>
/// Turns a primary's frame into a <see cref="SecondaryInput"/>: run where the frame is read (the
/// daemon's receive loop, the simulator's delivery), since a frame's bytes live only until it returns.
/// Whatever a peer's bytes make the decoders throw becomes a <see cref="SecondaryInputKind.Malformed"/>
/// input: the host closes that link, and nothing else happens.
/// </summary>
public static class SecondaryFrameDecoder
{
    // Payloads live from their frame until their epoch is applied; their owners are reused too.
    private static readonly PayloadPool ReceivedPayloads = new();

    public static SecondaryInput Decode(in Frame frame, long receivedAt)
    {
        try
        {
            switch (frame.Type)
            {
                case FrameType.Hello:
                    return new SecondaryInput(SecondaryInputKind.Hello, Hello: ControlCodec.Decode<HelloMessage>(frame, FrameType.Hello));
                case FrameType.Mirror:
                    MirrorRecord record = MirrorDecoder.Decode(frame, ReceivedPayloads, out IMemoryOwner<byte>? owner);
                    return new SecondaryInput(SecondaryInputKind.Mirror, record, owner);
                case FrameType.Checkpoint:
                    // Only copied here: the host's loop decodes it (DecodeCheckpoint), with its link's page decoder.
                    IMemoryOwner<byte> body = ReceivedPayloads.Rent(checked((int)frame.Body.Length));
                    Memory<byte> bytes = body.Memory[..(int)frame.Body.Length];
                    frame.Body.CopyTo(bytes.Span);
                    return new SecondaryInput(SecondaryInputKind.Checkpoint, Owner: body, CheckpointBody: bytes, ReceivedAt: receivedAt, LinkSequence: frame.Header.LinkSequence);
                case FrameType.ResyncStart:
                    return new SecondaryInput(SecondaryInputKind.ResyncStart, ResyncStart: ControlCodec.Decode<ResyncStartMessage>(frame, FrameType.ResyncStart));
                case FrameType.Heartbeat:
                    return new SecondaryInput(SecondaryInputKind.Heartbeat, Probe: ControlCodec.Decode<HeartbeatMessage>(frame, FrameType.Heartbeat).Probe);
                case FrameType.WitnessAnswer:
                    return new SecondaryInput(SecondaryInputKind.WitnessAnswer, WitnessAnswer: ControlCodec.Decode<Protocol.Witness.WitnessAnswerMessage>(frame, FrameType.WitnessAnswer));
                case FrameType.Switchover:
                    return new SecondaryInput(SecondaryInputKind.Switchover, Epoch: ControlCodec.Decode<SwitchoverMessage>(frame, FrameType.Switchover).Epoch);
                case FrameType.Error:
                    return new SecondaryInput(SecondaryInputKind.PeerError, Reason: ControlCodec.Decode<ErrorMessage>(frame, FrameType.Error).Reason);
                default:
                    return new SecondaryInput(SecondaryInputKind.Malformed, Reason: $"frame {frame.Header.LinkSequence}: a primary does not send {frame.Type}");
            }
        }
        catch (Exception e)
        {
            return new SecondaryInput(SecondaryInputKind.Malformed, Reason: $"frame {frame.Header.LinkSequence} ({frame.Type}) is malformed: {e.Message}");
        }
    }

    /// <summary>
    /// The checkpoint of a <see cref="SecondaryInputKind.Checkpoint"/> input, its pages decoded by the
    /// link's <paramref name="pages"/> decoder when the link agreed on an encoding. Pages sent as they
    /// are — every page on a link without an encoding, and the ones an encoding sent whole — stay
    /// where they were received, so the input's memory becomes the result's
    /// <paramref name="snapshotOwner"/>, for whoever holds the checkpoint to dispose. A checkpoint
    /// without an encoding also keeps its bytes as its <see cref="CheckpointRecord.WireForm"/>.
    /// Anything the bytes make the decoders throw is a <see cref="ProtocolViolationException"/>, and
    /// the memory is returned then.
    /// </summary>
    public static CheckpointRecord DecodeCheckpoint(in SecondaryInput input, Protocol.Pages.CheckpointPageDecoder? pages, out IDisposable? snapshotOwner)
    {
        snapshotOwner = null;
        try
        {
            CheckpointMessage message = ControlCodec.DecodeKept<CheckpointMessage>(input.CheckpointBody, input.LinkSequence, FrameType.Checkpoint);
            CheckpointRecord checkpoint = message.ToRecord(pages);
            snapshotOwner = input.Owner;
            return message.PageEncoding == Protocol.Pages.PageEncoding.None ? checkpoint with { WireForm = input.CheckpointBody } : checkpoint;
        }
        catch (Exception e)
        {
            input.Owner?.Dispose();
            throw e as ProtocolViolationException ?? new ProtocolViolationException($"frame {input.LinkSequence} (Checkpoint) is malformed: {e.Message}", e);
        }
    }
}
