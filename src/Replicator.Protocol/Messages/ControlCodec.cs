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

    /// <summary>
    /// <see cref="Options"/> for a body the reader keeps for as long as the message lives: a
    /// checkpoint's pages are then slices of it rather than copies (<see cref="PageDataFormatter"/>).
    /// </summary>
    public static MessagePackSerializerOptions KeepingPagesOptions { get; } = new KeepingPages(Options);

    public static T Decode<T>(in Frame frame, FrameType expected)
    {
        if (frame.Type != expected)
        {
            throw new ProtocolViolationException($"frame {frame.Header.LinkSequence}: expected {expected}, got {frame.Type}");
        }

        return Decode<T>(frame.Body, frame.Header.LinkSequence, frame.Type, Options);
    }

    /// <summary>
    /// A message of a <paramref name="type"/> frame whose body the caller copied out and keeps for as
    /// long as the message lives, so a checkpoint's pages are slices of <paramref name="body"/>.
    /// </summary>
    public static T DecodeKept<T>(ReadOnlyMemory<byte> body, long linkSequence, FrameType type) =>
        Decode<T>(new ReadOnlySequence<byte>(body), linkSequence, type, KeepingPagesOptions);

    private static T Decode<T>(in ReadOnlySequence<byte> body, long linkSequence, FrameType type, MessagePackSerializerOptions options)
    {
        try
        {
            return MessagePackSerializer.Deserialize<T>(body, options)
                ?? throw new ProtocolViolationException($"frame {linkSequence} ({type}): empty message");
        }
        catch (MessagePackSerializationException e)
        {
            throw new ProtocolViolationException($"frame {linkSequence} ({type}): body is not a valid {typeof(T).Name}: {e.Message}", e);
        }
    }

    private static void RoundTrip<T>(T message) => MessagePackSerializer.Deserialize<T>(MessagePackSerializer.Serialize(message, Options), Options);

    /// <summary>The options' type says the body outlives the message (MessagePack hands formatters nothing else).</summary>
    internal sealed class KeepingPages : MessagePackSerializerOptions
    {
        public KeepingPages(MessagePackSerializerOptions copyFrom)
            : base(copyFrom)
        {
        }

        protected override MessagePackSerializerOptions Clone() => new KeepingPages(this);
    }
}
