using System.Buffers;
using Replicator.Hosts.Primary;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Tests;

public sealed class PrimaryFrameDecoderTests
{
    [Fact]
    public void An_ack_decodes_to_its_epoch()
    {
        PrimaryInput input = PrimaryFrameDecoder.Decode(Control(FrameType.Ack, new AckMessage { Epoch = 12 }));
        Assert.Equal((PrimaryInputKind.Ack, 12L), (input.Kind, input.Value));
        Assert.False(input.EndsLink);
    }

    [Fact]
    public void A_fencing_error_decodes_with_its_reason_and_ends_the_link()
    {
        PrimaryInput input = PrimaryFrameDecoder.Decode(Control(FrameType.Error, new ErrorMessage { Reason = "promoted", Fenced = true }));
        Assert.Equal((PrimaryInputKind.PeerError, "promoted", true), (input.Kind, input.Reason, input.Fenced));
        Assert.True(input.EndsLink);
    }

    [Fact]
    public void A_body_that_is_not_its_message_is_malformed_not_thrown()
    {
        PrimaryInput input = PrimaryFrameDecoder.Decode(Control(FrameType.Credit, "not a credit"));
        Assert.Equal(PrimaryInputKind.Malformed, input.Kind);
        Assert.Contains("not a valid CreditMessage", input.Reason, StringComparison.Ordinal);
        Assert.True(input.EndsLink);
    }

    [Fact]
    public void A_type_a_secondary_never_sends_is_unexpected()
    {
        PrimaryInput input = PrimaryFrameDecoder.Decode(Control(FrameType.Hello, new HelloMessage()));
        Assert.Equal((PrimaryInputKind.Unexpected, FrameType.Hello), (input.Kind, input.Type));
    }

    private static Frame Control<T>(FrameType type, T message)
    {
        var output = new ArrayBufferWriter<byte>();
        new FrameWriter().WriteControl(output, type, message);
        var sequence = new ReadOnlySequence<byte>(output.WrittenMemory);
        Assert.True(new FrameReader(1 << 20).TryRead(ref sequence, out Frame frame));
        return frame;
    }
}
