using System.Buffers;
using MessagePack;
using Replicator.Protocol.Framing;

namespace Replicator.Protocol.Messages;

/// <summary>MessagePack settings for control messages, and decoding that turns any failure into a protocol violation.</summary>
public static class ControlCodec
{
    /// <summary>Standard resolver, hardened for data read off the network.</summary>
    public static MessagePackSerializerOptions Options { get; } =
        MessagePackSerializerOptions.Standard.WithSecurity(MessagePackSecurity.UntrustedData);

    /// <summary>
    /// Builds every control message's serializer now. The standard resolver generates one per type
    /// on first use, which a cold process under load can take hundreds of milliseconds over; a node
    /// calls this before it opens links, so no handshake spends its peer's hello timeout on it.
    /// </summary>
    public static void Prepare()
    {
        RoundTrip(new HelloMessage { Generations = Generations.DataGenerations.None.Begin(new Generations.GenerationMark { Id = 1 }) });
        RoundTrip(new WelcomeMessage());
        RoundTrip(new ResyncStartMessage());
        RoundTrip(new CheckpointMessage());
        RoundTrip(new AckMessage { Timings = new AckTimings() });
        RoundTrip(new CreditMessage());
        RoundTrip(new HeartbeatMessage());
        RoundTrip(new RejectMessage());
        RoundTrip(new ErrorMessage());
        RoundTrip(new SwitchoverMessage());
        RoundTrip(new VerifyResultMessage());
        RoundTrip(new Witness.WitnessRequestMessage { Generations = Generations.DataGenerations.None.Begin(new Generations.GenerationMark { Id = 1 }) });
        RoundTrip(new Witness.WitnessAnswerMessage());
    }

    public static T Decode<T>(in Frame frame, FrameType expected)
    {
        if (frame.Type != expected)
        {
            throw new ProtocolViolationException($"frame {frame.Header.LinkSequence}: expected {expected}, got {frame.Type}");
        }

        try
        {
            return MessagePackSerializer.Deserialize<T>(frame.Body, Options)
                ?? throw new ProtocolViolationException($"frame {frame.Header.LinkSequence} ({frame.Type}): empty message");
        }
        catch (MessagePackSerializationException e)
        {
            throw new ProtocolViolationException($"frame {frame.Header.LinkSequence} ({frame.Type}): body is not a valid {typeof(T).Name}: {e.Message}", e);
        }
    }

    private static void RoundTrip<T>(T message) => MessagePackSerializer.Deserialize<T>(MessagePackSerializer.Serialize(message, Options), Options);
}
