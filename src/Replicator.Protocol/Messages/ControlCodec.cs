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
}
