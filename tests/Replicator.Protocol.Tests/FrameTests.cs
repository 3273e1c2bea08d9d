using System.Runtime.InteropServices;
using System.Buffers;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Vm;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;

namespace Replicator.Protocol.Tests;

public class FrameTests
{
    private const int MaxBody = 64 * 1024 + MirrorHeader.Size;

    private static MirrorRecord SampleWrite() =>
        new(3, 42, BlockRequest.Write(8192, 512, fua: true), Enumerable.Range(0, 512).Select(i => (byte)i).ToArray());

    private static byte[] Encode(Action<FrameWriter, ArrayBufferWriter<byte>> write, FrameWriter? writer = null)
    {
        var output = new ArrayBufferWriter<byte>();
        write(writer ?? new FrameWriter(), output);
        return output.WrittenSpan.ToArray();
    }

    private static List<Frame> ReadAll(byte[] bytes, FrameReader? reader = null)
    {
        reader ??= new FrameReader(MaxBody);
        var buffer = new ReadOnlySequence<byte>(bytes);
        var frames = new List<Frame>();
        while (reader.TryRead(ref buffer, out Frame frame))
        {
            frames.Add(frame);
        }

        return frames;
    }

    [Fact]
    public void The_checksum_is_CRC_32C()
    {
        // The standard check value of CRC-32C (Castagnoli) over "123456789".
        Assert.Equal(0xE3069283u, new FrameChecksum().Compute(default, "123456789"u8));
    }

    [Fact]
    public void Golden_bytes_of_an_ack_frame()
    {
        byte[] bytes = Encode((w, o) => w.WriteControl(o, FrameType.Ack, new AckMessage { Epoch = 7 }));

        // magic "RP", type 5, flags 0, body length 3, link sequence 0, CRC-32C (checked against an
        // independent bitwise implementation); body: MessagePack fixarray(2), 7, nil (no timings).
        Assert.Equal("525005000300000000000000FB4CEB329207C0", Convert.ToHexString(bytes));
    }

    [Fact]
    public void Golden_bytes_of_a_mirror_frame_header()
    {
        byte[] bytes = Encode((w, o) => w.WriteMirror(o, new MirrorRecord(1, 2, BlockRequest.Zeroes(4096, 1024), default)));

        Assert.Equal(FrameHeader.Size + MirrorHeader.Size, bytes.Length);
        Assert.Equal(
            "5250030020000000000000008B760503" + "0100000000000000" + "0200000000000000" + "0010000000000000" + "00040000" + "02" + "00" + "0000",
            Convert.ToHexString(bytes));
    }

    [Fact]
    public void A_mirrored_write_round_trips_into_a_pooled_buffer()
    {
        MirrorRecord sent = SampleWrite();
        Frame frame = Assert.Single(ReadAll(Encode((w, o) => w.WriteMirror(o, sent))));

        MirrorRecord received = MirrorDecoder.Decode(frame, MemoryPool<byte>.Shared, out IMemoryOwner<byte>? owner);
        using (owner)
        {
            Assert.NotNull(owner);
            Assert.Equal((sent.Epoch, sent.Sequence, sent.Request), (received.Epoch, received.Sequence, received.Request));
            Assert.True(sent.Payload.Span.SequenceEqual(received.Payload.Span));
            Assert.Equal(EpochDigest.RecordHash(sent), EpochDigest.RecordHash(received));
        }
    }

    [Fact]
    public void A_checkpoint_round_trips_with_its_snapshot()
    {
        var snapshot = new VmSnapshot(5, [1, 2, 3], [new VmPage(9, new byte[4096])]);
        var sent = new CheckpointRecord(5, 10, 20, 0xABCDEF, snapshot, snapshot.ComputeDigest());
        Frame frame = Assert.Single(ReadAll(Encode((w, o) => w.WriteControl(o, FrameType.Checkpoint, CheckpointMessage.From(sent)))));

        CheckpointRecord received = ControlCodec.Decode<CheckpointMessage>(frame, FrameType.Checkpoint).ToRecord();
        Assert.Equal((sent.Epoch, sent.FirstSequence, sent.LastSequence, sent.Digest), (received.Epoch, received.FirstSequence, received.LastSequence, received.Digest));
        Assert.Equal(sent.SnapshotDigest, received.Snapshot.ComputeDigest());
    }

    [Fact]
    public void A_checkpoint_s_pages_are_decoded_into_arrays_of_sixteen_from_the_same_wire_form_as_an_array_of_byte_arrays()
    {
        byte[][] contents = [.. Enumerable.Range(0, 40).Select(i => Enumerable.Repeat((byte)(i + 1), 4096).ToArray())];
        var snapshot = new VmSnapshot(5, [7], [.. contents.Select((c, i) => new VmPage(i * 3, c))]);
        var sent = new CheckpointRecord(5, 10, 20, 1, snapshot, snapshot.ComputeDigest());
        byte[] encoded = MessagePack.MessagePackSerializer.Serialize(CheckpointMessage.From(sent), ControlCodec.Options);

        // The wire form is an array of byte arrays (the field's earlier type), both ways.
        var fields = MessagePack.MessagePackSerializer.Deserialize<object[]>(encoded, ControlCodec.Options);
        Assert.Equal(contents, ((object[])fields[7]).Cast<byte[]>());
        byte[] earlier = MessagePack.MessagePackSerializer.Serialize(new object[] { 5L, 10L, 20L, 1UL, snapshot.ComputeDigest(), new byte[] { 7 }, Enumerable.Range(0, 40).Select(i => i * 3L).ToArray(), contents });
        Assert.Equal(contents, MessagePack.MessagePackSerializer.Deserialize<CheckpointMessage>(earlier, ControlCodec.Options).PageData.Select(p => p.ToArray()));

        CheckpointRecord received = MessagePack.MessagePackSerializer.Deserialize<CheckpointMessage>(encoded, ControlCodec.Options).ToRecord();
        Assert.Equal(sent.SnapshotDigest, received.Snapshot.ComputeDigest());
        Assert.Equal(contents, received.Snapshot.Pages.Select(p => p.Data.ToArray()));
        var arrays = received.Snapshot.Pages.Select(p => MemoryMarshal.TryGetArray(p.Data, out ArraySegment<byte> segment) ? segment.Array : null).Distinct().ToList();
        Assert.Equal([16 * 4096, 16 * 4096, 8 * 4096], arrays.Select(a => a!.Length));
    }

    [Fact]
    public void A_checkpoint_whose_pages_are_not_all_bytes_is_refused()
    {
        var snapshot = new VmSnapshot(5, [], []);
        // (A str is read as its bytes, as MessagePack's byte arrays always were; the engine refuses a page of the wrong size.)
        foreach (object pages in new object[] { new object?[] { new byte[4], null }, new object[] { new byte[4], 17 }, 17 })
        {
            byte[] encoded = MessagePack.MessagePackSerializer.Serialize(new object[] { 5L, 10L, 20L, 1UL, snapshot.ComputeDigest(), Array.Empty<byte>(), new long[] { 0, 1 }, pages });
            Assert.ThrowsAny<MessagePack.MessagePackSerializationException>(() => MessagePack.MessagePackSerializer.Deserialize<CheckpointMessage>(encoded, ControlCodec.Options));
        }
    }

    [Fact]
    public void A_checkpoint_keeps_its_resync_marks_and_one_without_them_reads_as_none()
    {
        var snapshot = new VmSnapshot(5, [], []);
        var sent = new CheckpointRecord(5, 10, 20, 1, snapshot, snapshot.ComputeDigest()) { StartsResync = true, ResyncPending = true };
        Frame frame = Assert.Single(ReadAll(Encode((w, o) => w.WriteControl(o, FrameType.Checkpoint, CheckpointMessage.From(sent)))));
        CheckpointRecord received = ControlCodec.Decode<CheckpointMessage>(frame, FrameType.Checkpoint).ToRecord();
        Assert.True(received.StartsResync && received.ResyncPending);

        // A journal entry written before the marks existed: an array of the first eight keys only.
        byte[] old = MessagePack.MessagePackSerializer.Serialize(new object[] { 5L, 10L, 20L, 1UL, snapshot.ComputeDigest(), Array.Empty<byte>(), Array.Empty<long>(), Array.Empty<byte[]>() });
        CheckpointRecord legacy = MessagePack.MessagePackSerializer.Deserialize<CheckpointMessage>(old, ControlCodec.Options).ToRecord();
        Assert.False(legacy.StartsResync || legacy.ResyncPending);
    }

    [Fact]
    public void A_resync_start_round_trips()
    {
        var sent = new ResyncStartMessage { BaseEpoch = 7, FirstEpoch = 12, FirstSequence = 345, Regions = 3, Bytes = 3 << 20 };
        Frame frame = Assert.Single(ReadAll(Encode((w, o) => w.WriteControl(o, FrameType.ResyncStart, sent))));

        ResyncStartMessage received = ControlCodec.Decode<ResyncStartMessage>(frame, FrameType.ResyncStart);
        Assert.Equal((7L, 12L, 345L, 3, 3L << 20), (received.BaseEpoch, received.FirstEpoch, received.FirstSequence, received.Regions, received.Bytes));
    }

    [Fact]
    public void Frames_split_across_reads_are_reassembled()
    {
        var writer = new FrameWriter();
        byte[] bytes = Encode((w, o) => { w.WriteMirror(o, SampleWrite()); w.WriteControl(o, FrameType.Ack, new AckMessage { Epoch = 1 }); }, writer);
        var reader = new FrameReader(MaxBody);
        var frames = new List<FrameType>();
        byte[] pending = [];
        foreach (byte b in bytes)
        {
            pending = [.. pending, b];
            var buffer = new ReadOnlySequence<byte>(pending);
            while (reader.TryRead(ref buffer, out Frame frame))
            {
                frames.Add(frame.Type);
            }

            pending = buffer.ToArray();
        }

        Assert.Equal([FrameType.Mirror, FrameType.Ack], frames);
    }

    [Fact]
    public void Damage_to_any_single_byte_of_a_frame_is_caught()
    {
        byte[] good = Encode((w, o) => w.WriteMirror(o, SampleWrite()));
        for (int at = 0; at < good.Length; at++)
        {
            byte[] bad = (byte[])good.Clone();
            bad[at] ^= 0x10;

            // Either rejected, or (a damaged length) still waiting for bytes that never come: never a frame.
            try
            {
                Assert.Empty(ReadAll(bad));
            }
            catch (ProtocolViolationException)
            {
            }
        }
    }

    [Fact]
    public void A_damaged_body_is_reported_as_a_checksum_failure()
    {
        byte[] bad = Encode((w, o) => w.WriteMirror(o, SampleWrite()));
        bad[^1] ^= 1;
        var e = Assert.Throws<ProtocolViolationException>(() => ReadAll(bad));
        Assert.Contains("checksum", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_oversized_frame_is_refused_before_its_body_is_awaited()
    {
        byte[] header = new byte[FrameHeader.Size];
        new FrameHeader(FrameType.Mirror, 0, MaxBody + 1, 0, 0).Write(header);
        var e = Assert.Throws<ProtocolViolationException>(() => ReadAll(header));
        Assert.Contains("outside 0..", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_type_or_foreign_stream_is_refused()
    {
        byte[] header = new byte[FrameHeader.Size];
        new FrameHeader((FrameType)77, 0, 0, 0, 0).Write(header);
        Assert.Contains("unknown frame type 77", Assert.Throws<ProtocolViolationException>(() => ReadAll(header)).Message, StringComparison.Ordinal);

        byte[] http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray();
        Assert.Contains("bad magic", Assert.Throws<ProtocolViolationException>(() => ReadAll(http)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_lost_or_repeated_frame_is_caught_by_the_link_sequence()
    {
        var writer = new FrameWriter();
        byte[] first = Encode((w, o) => w.WriteControl(o, FrameType.Ack, new AckMessage { Epoch = 1 }), writer);
        byte[] second = Encode((w, o) => w.WriteControl(o, FrameType.Ack, new AckMessage { Epoch = 2 }), writer);

        var reader = new FrameReader(MaxBody);
        var e = Assert.Throws<ProtocolViolationException>(() => ReadAll(second, reader));
        Assert.Contains("where frame 0 was due", e.Message, StringComparison.Ordinal);

        reader = new FrameReader(MaxBody);
        ReadAll(first, reader);
        Assert.Throws<ProtocolViolationException>(() => ReadAll(first, reader));
    }

    [Fact]
    public void A_mirror_whose_payload_does_not_match_its_length_is_refused()
    {
        var lying = new MirrorRecord(1, 1, BlockRequest.Write(0, 4096), new byte[100]);
        Frame frame = Assert.Single(ReadAll(Encode((w, o) => w.WriteMirror(o, lying))));
        var e = Assert.Throws<ProtocolViolationException>(() => MirrorDecoder.Decode(frame, MemoryPool<byte>.Shared, out _));
        Assert.Contains("carries 100 payload bytes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_body_that_is_not_the_expected_message_is_refused()
    {
        Frame frame = Assert.Single(ReadAll(Encode((w, o) => w.WriteControl(o, FrameType.Ack, "not an ack"))));
        Assert.Throws<ProtocolViolationException>(() => ControlCodec.Decode<AckMessage>(frame, FrameType.Ack));
        Assert.Throws<ProtocolViolationException>(() => ControlCodec.Decode<CreditMessage>(frame, FrameType.Credit));
    }
}
