using MessagePack;
using Replicator.Protocol.Messages;

namespace Replicator.Protocol.Tests;

/// <summary>The acknowledgement grew optional timings (key 1): peers on either side of that change still understand each other.</summary>
public class AckCompatibilityTests
{
    [Fact]
    public void A_peer_that_knows_only_the_epoch_reads_an_ack_with_timings()
    {
        var ack = new AckMessage { Epoch = 9, Timings = new AckTimings { JournalFlushMicroseconds = 150, BufferPeakBytes = 1 << 20, AppliedEpoch = 8, ApplyMicroseconds = 900 } };
        byte[] bytes = MessagePackSerializer.Serialize(ack, ControlCodec.Options);

        EpochOnlyAck old = MessagePackSerializer.Deserialize<EpochOnlyAck>(bytes, ControlCodec.Options);

        Assert.Equal(9, old.Epoch);
    }

    [Fact]
    public void An_ack_without_timings_from_an_older_peer_decodes_with_none()
    {
        byte[] bytes = MessagePackSerializer.Serialize(new EpochOnlyAck { Epoch = 4 }, ControlCodec.Options);

        AckMessage ack = MessagePackSerializer.Deserialize<AckMessage>(bytes, ControlCodec.Options);

        Assert.Equal(4, ack.Epoch);
        Assert.Null(ack.Timings);
    }

    [Fact]
    public void Timings_round_trip()
    {
        var sent = new AckTimings { QueueMicroseconds = 1, JournalWriteMicroseconds = 2, JournalFlushMicroseconds = 3, AckMicroseconds = 4, BufferPeakBytes = 5, AppliedEpoch = 6, ApplyMicroseconds = 7 };
        byte[] bytes = MessagePackSerializer.Serialize(new AckMessage { Epoch = 6, Timings = sent }, ControlCodec.Options);

        AckTimings got = MessagePackSerializer.Deserialize<AckMessage>(bytes, ControlCodec.Options).Timings!;

        Assert.Equal(
            (sent.QueueMicroseconds, sent.JournalWriteMicroseconds, sent.JournalFlushMicroseconds, sent.AckMicroseconds, sent.BufferPeakBytes, sent.AppliedEpoch, sent.ApplyMicroseconds),
            (got.QueueMicroseconds, got.JournalWriteMicroseconds, got.JournalFlushMicroseconds, got.AckMicroseconds, got.BufferPeakBytes, got.AppliedEpoch, got.ApplyMicroseconds));
    }

    /// <summary>The acknowledgement as protocol version 1 first defined it.</summary>
    [MessagePackObject]
    public sealed class EpochOnlyAck
    {
        [Key(0)]
        public long Epoch { get; set; }
    }
}
