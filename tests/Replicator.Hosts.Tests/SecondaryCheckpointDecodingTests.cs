using System.Buffers;
using System.Runtime.InteropServices;
using Replicator.Core.Epochs;
using Replicator.Core.Vm;
using Replicator.Hosts.Links;
using Replicator.Hosts.Secondary;
using Replicator.Hosts.Tests.Support;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using Replicator.Protocol.Pages;

namespace Replicator.Hosts.Tests;

/// <summary>
/// A checkpoint on the secondary: the receive loop only copies its frame's body into pooled memory;
/// the host's loop decodes it there, its pages left in that copy rather than copied again, and the
/// copy goes with the checkpoint (or back at once when the bytes do not decode).
/// </summary>
public sealed class SecondaryCheckpointDecodingTests
{
    [Fact]
    public void The_receive_loop_only_copies_the_body_and_the_pages_stay_in_that_copy()
    {
        CheckpointRecord sent = Checkpoint([Page(3, 0x11), Page(7, 0x22)]);
        byte[] body = MessagePack.MessagePackSerializer.Serialize(CheckpointMessage.From(sent), ControlCodec.Options);

        SecondaryInput input = SecondaryHarness.Checkpoint(CheckpointMessage.From(sent));
        Assert.Equal(SecondaryInputKind.Checkpoint, input.Kind);
        Assert.Equal(body, input.CheckpointBody.ToArray());
        Assert.True(input.CheckpointBody.Span.Overlaps(input.Owner!.Memory.Span));

        CheckpointRecord received = SecondaryFrameDecoder.DecodeCheckpoint(input, pages: null, out IDisposable? snapshotOwner);
        Assert.Same(input.Owner, snapshotOwner);
        Assert.Equal(sent.SnapshotDigest, received.Snapshot.ComputeDigest());
        Assert.All(received.Snapshot.Pages, page => Assert.Same(ArrayOf(input.CheckpointBody), ArrayOf(page.Data)));
        Assert.True(received.WireForm.Span == input.CheckpointBody.Span, "the journal is handed the bytes received");
        snapshotOwner!.Dispose();
    }

    [Fact]
    public void Encoded_pages_are_decoded_and_those_sent_whole_stay_in_the_received_copy()
    {
        byte[] noise = new byte[4096];
        new Random(5).NextBytes(noise);
        CheckpointRecord sent = Checkpoint([new VmPage(1, noise), Page(2, 0)]);
        var encoder = new CheckpointPageEncoder(PageEncoding.ZeroRuns, 1 << 20);
        var owner = new CountingMemoryOwner(MessagePack.MessagePackSerializer.Serialize(CheckpointMessage.From(sent, encoder), ControlCodec.Options));
        var input = new SecondaryInput(SecondaryInputKind.Checkpoint, Owner: owner, CheckpointBody: owner.Memory, LinkSequence: 4);

        CheckpointRecord received = SecondaryFrameDecoder.DecodeCheckpoint(input, new CheckpointPageDecoder(PageEncoding.ZeroRuns, 1 << 20, 1 << 20), out IDisposable? snapshotOwner);

        Assert.Equal(sent.SnapshotDigest, received.Snapshot.ComputeDigest());
        Assert.Same(owner.Array, ArrayOf(received.Snapshot.Pages[0].Data)); // incompressible: sent whole, left where it arrived
        Assert.NotSame(owner.Array, ArrayOf(received.Snapshot.Pages[1].Data)); // zeroes: decoded into memory of their own
        Assert.Same(owner, snapshotOwner);
        Assert.Equal(0, owner.Disposed);
        Assert.True(received.WireForm.IsEmpty, "encoded pages are not what the journal stores");
    }

    [Fact]
    public void A_body_that_does_not_decode_is_a_protocol_violation_and_its_memory_goes_back_at_once()
    {
        var owner = new CountingMemoryOwner(MessagePack.MessagePackSerializer.Serialize("not a checkpoint", ControlCodec.Options));
        var input = new SecondaryInput(SecondaryInputKind.Checkpoint, Owner: owner, CheckpointBody: owner.Memory, LinkSequence: 9);

        var refused = Assert.Throws<ProtocolViolationException>(() => SecondaryFrameDecoder.DecodeCheckpoint(input, pages: null, out _));
        Assert.Contains("frame 9 (Checkpoint)", refused.Message, StringComparison.Ordinal);
        Assert.Equal(1, owner.Disposed);

        // On a link: the host closes it as for any malformed frame, counts it, and commits nothing.
        var h = new SecondaryHarness();
        LinkId link = h.Connect();
        var again = new CountingMemoryOwner(owner.Array);
        h.Host.OnInput(link, input with { Owner = again });
        h.RunStorage();

        Assert.Equal(1, again.Disposed);
        Assert.Equal(1, h.Host.ProtocolViolations);
        Assert.Contains("not a valid CheckpointMessage", Assert.Single(h.Closed).Reason, StringComparison.Ordinal);
        Assert.Equal(0, h.Host.Engine!.LastCommittedEpoch);
    }

    private static VmPage Page(long index, byte fill) => new(index, Enumerable.Repeat(fill, 4096).ToArray());

    private static CheckpointRecord Checkpoint(VmPage[] pages)
    {
        var snapshot = new VmSnapshot(1, [1, 2, 3], pages);
        return new CheckpointRecord(1, 1, 0, default(EpochDigest).Value, snapshot, snapshot.ComputeDigest());
    }

    private static byte[] ArrayOf(ReadOnlyMemory<byte> memory) =>
        MemoryMarshal.TryGetArray(memory, out ArraySegment<byte> segment) ? segment.Array! : throw new InvalidOperationException("not array memory");

    /// <summary>Stands in for the pool's owner of a received body: counts how often it was given back.</summary>
    private sealed class CountingMemoryOwner(byte[] array) : IMemoryOwner<byte>
    {
        public byte[] Array { get; } = array;

        public int Disposed { get; private set; }

        public Memory<byte> Memory => Array;

        public void Dispose() => Disposed++;
    }
}
