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
                    CheckpointMessage checkpoint = ControlCodec.Decode<CheckpointMessage>(frame, FrameType.Checkpoint);
                    // Encoded pages are decoded on the host's loop, by its link's decoder, in the link's order.
                    return checkpoint.PageEncoding == Protocol.Pages.PageEncoding.None
                        ? new SecondaryInput(SecondaryInputKind.Checkpoint, Checkpoint: checkpoint.ToRecord(), ReceivedAt: receivedAt)
                        : new SecondaryInput(SecondaryInputKind.Checkpoint, EncodedCheckpoint: checkpoint, ReceivedAt: receivedAt);
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
}
