using System.Buffers;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;

namespace Replicator.Protocol.Tests;

/// <summary>Frames on a TLS link go without a checksum (the transport authenticates every byte); everywhere else they keep it.</summary>
public class FrameIntegrityTests
{
    private const int MaxBody = 64 * 1024 + MirrorHeader.Size;

    private static byte[] Mirror(FrameIntegrity integrity)
    {
        var output = new ArrayBufferWriter<byte>();
        new FrameWriter(integrity).WriteMirror(output, new MirrorRecord(3, 42, BlockRequest.Write(8192, 512), Enumerable.Range(0, 512).Select(i => (byte)i).ToArray()));
        return output.WrittenSpan.ToArray();
    }

    private static Frame ReadOne(byte[] bytes, FrameIntegrity integrity)
    {
        var buffer = new ReadOnlySequence<byte>(bytes);
        Assert.True(new FrameReader(MaxBody, integrity).TryRead(ref buffer, out Frame frame));
        return frame;
    }

    [Fact]
    public void Over_TLS_a_frame_is_flagged_and_carries_no_checksum_and_is_read_without_one()
    {
        byte[] bytes = Mirror(FrameIntegrity.Transport);
        FrameHeader header = FrameHeader.Read(bytes, out _);

        Assert.Equal((FrameHeader.TransportIntegrityFlag, 0u), (header.Flags, header.Checksum));
        MirrorRecord record = MirrorDecoder.Decode(ReadOne(bytes, FrameIntegrity.Transport), new PayloadPool(), out System.Buffers.IMemoryOwner<byte>? owner);
        using (owner)
        {
            Assert.Equal((3L, 42L, 512), (record.Epoch, record.Sequence, record.Payload.Length));
        }
    }

    [Fact]
    public void A_frame_without_a_checksum_is_refused_on_a_link_without_TLS()
    {
        var refused = Assert.Throws<ProtocolViolationException>(() => ReadOne(Mirror(FrameIntegrity.Transport), FrameIntegrity.Checksum));

        Assert.Contains("without a checksum, on a link whose transport does not guard it", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_checksummed_frame_is_still_checked_over_TLS()
    {
        byte[] bytes = Mirror(FrameIntegrity.Checksum);
        ReadOne(bytes, FrameIntegrity.Transport);

        bytes[^1] ^= 1;
        Assert.Contains("checksum", Assert.Throws<ProtocolViolationException>(() => ReadOne(bytes, FrameIntegrity.Transport)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0x02, 0u, "reserved flags 0x02")]
    [InlineData(0x03, 0u, "reserved flags 0x03")]
    [InlineData(0x01, 0x1234u, "says it has no checksum, yet carries 0x00001234")]
    public void Other_flags_or_a_checksum_behind_the_flag_are_refused(byte flags, uint checksum, string reason)
    {
        byte[] bytes = new byte[FrameHeader.Size];
        new FrameHeader(FrameType.Heartbeat, flags, 0, 0, checksum).Write(bytes);

        Assert.Contains(reason, Assert.Throws<ProtocolViolationException>(() => ReadOne(bytes, FrameIntegrity.Transport)).Message, StringComparison.Ordinal);
    }
}
