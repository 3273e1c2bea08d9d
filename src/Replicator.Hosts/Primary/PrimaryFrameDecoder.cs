using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Primary;

/// <summary>
/// Reads a frame from the secondary into a <see cref="PrimaryInput"/>. Pure and thread-free: the
/// shell calls it on the link's receive loop (the frame's body lives only until the reader moves
/// on) and hands the result to the host's loop. A frame that does not decode becomes a
/// <see cref="PrimaryInputKind.Malformed"/> input: what to do about it is the host's decision.
/// </summary>
public static class PrimaryFrameDecoder
{
    public static PrimaryInput Decode(in Frame frame)
    {
        long sequence = frame.Header.LinkSequence;
        try
        {
            switch (frame.Type)
            {
                case FrameType.Welcome:
                    return new PrimaryInput(PrimaryInputKind.Welcome, frame.Type, sequence, Welcome: ControlCodec.Decode<WelcomeMessage>(frame, FrameType.Welcome));
                case FrameType.Ack:
                    AckMessage ack = ControlCodec.Decode<AckMessage>(frame, FrameType.Ack);
                    return new PrimaryInput(PrimaryInputKind.Ack, frame.Type, sequence, ack.Epoch, Timings: ack.Timings);
                case FrameType.Credit:
                    return new PrimaryInput(PrimaryInputKind.Credit, frame.Type, sequence, ControlCodec.Decode<CreditMessage>(frame, FrameType.Credit).Bytes);
                case FrameType.Reject:
                    RejectMessage reject = ControlCodec.Decode<RejectMessage>(frame, FrameType.Reject);
                    return new PrimaryInput(PrimaryInputKind.Reject, frame.Type, sequence, reject.Epoch, reject.Reason);
                case FrameType.VerifyResult:
                    return new PrimaryInput(PrimaryInputKind.VerifyResult, frame.Type, sequence, Verify: ControlCodec.Decode<VerifyResultMessage>(frame, FrameType.VerifyResult));
                case FrameType.Heartbeat:
                    HeartbeatMessage heartbeat = ControlCodec.Decode<HeartbeatMessage>(frame, FrameType.Heartbeat);
                    return new PrimaryInput(PrimaryInputKind.Heartbeat, frame.Type, sequence, heartbeat.Probe, PromiseMilliseconds: heartbeat.PromiseMilliseconds);
                case FrameType.WitnessAnswer:
                    return new PrimaryInput(PrimaryInputKind.WitnessAnswer, frame.Type, sequence, WitnessAnswer: ControlCodec.Decode<Protocol.Witness.WitnessAnswerMessage>(frame, FrameType.WitnessAnswer));
                case FrameType.Error:
                    ErrorMessage error = ControlCodec.Decode<ErrorMessage>(frame, FrameType.Error);
                    return new PrimaryInput(PrimaryInputKind.PeerError, frame.Type, sequence, Reason: error.Reason, Fenced: error.Fenced);
                default:
                    return new PrimaryInput(PrimaryInputKind.Unexpected, frame.Type, sequence);
            }
        }
        catch (ProtocolViolationException e)
        {
            return new PrimaryInput(PrimaryInputKind.Malformed, frame.Type, sequence, Reason: e.Message);
        }
    }
}
