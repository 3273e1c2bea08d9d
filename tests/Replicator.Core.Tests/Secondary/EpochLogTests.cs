using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Tests.Support;
using static Replicator.Core.Tests.Support.Records;

namespace Replicator.Core.Tests.Secondary;

/// <summary>
/// One epoch in the secondary's buffer: records arriving in any order, retransmitted, or altered on
/// the way; the checkpoint's sequence range; sealing in sequence order; reuse for a later epoch.
/// </summary>
public class EpochLogTests
{
    private readonly EpochLog _log = new(1);

    [Fact]
    public void A_retransmission_of_a_held_record_is_a_duplicate_and_is_not_counted_twice()
    {
        MirrorRecord a = Write(1, 1, 0, 0xA);
        MirrorRecord b = Write(1, 2, 0, 0xB);
        Assert.Equal(EpochLog.AddResult.Added, _log.Add(a, null, out _));
        Assert.Equal(EpochLog.AddResult.Added, _log.Add(b, null, out _));
        ulong digest = _log.Digest;
        long bytes = _log.BufferBytes;

        Assert.Equal(EpochLog.AddResult.Duplicate, _log.Add(a, null, out _));
        Assert.Equal((2, digest, bytes), (_log.Count, _log.Digest, _log.BufferBytes));
    }

    [Fact]
    public void Each_record_is_held_with_its_record_hash_which_the_digest_sums()
    {
        MirrorRecord a = Write(1, 1, 0, 0xA);
        MirrorRecord b = Write(1, 2, 4096, 0xB);
        _log.Add(a, null, out ulong hashA);
        _log.Add(b, null, out ulong hashB);

        // The journal's checksum takes the held hash in place of the payload: it must be the record's own.
        Assert.Equal((EpochDigest.RecordHash(a), EpochDigest.RecordHash(b)), (hashA, hashB));
        Assert.Equal([hashA, hashB], _log.Records.ToArray().Select(held => held.Hash));
        Assert.Equal(unchecked(hashA + hashB), _log.Digest);
    }

    [Theory]
    [InlineData("payload")]
    [InlineData("offset")]
    [InlineData("fua")]
    [InlineData("op")]
    public void A_second_record_with_a_held_sequence_number_but_other_contents_is_a_conflict(string altered)
    {
        MirrorRecord held = Write(1, 1, 0, 0xA);
        MirrorRecord other = altered switch
        {
            "payload" => Write(1, 1, 0, 0xB),
            "offset" => held with { Request = held.Request with { Offset = 4096 } },
            "fua" => held with { Request = held.Request with { Fua = true } },
            _ => new MirrorRecord(1, 1, BlockRequest.Zeroes(0, 4096), default),
        };
        _log.Add(held, null, out _);
        _log.Add(Write(1, 2, 0, 0xC), null, out _); // so the held number is below the highest seen

        Assert.Equal(EpochLog.AddResult.Conflict, _log.Add(other, null, out _));
        Assert.Equal(2, _log.Count);
    }

    [Fact]
    public void Once_the_checkpoint_is_known_a_record_outside_its_range_is_refused_and_its_edges_are_taken()
    {
        Assert.True(_log.SetCheckpoint(CheckpointFor(1, 5, 7)));
        Assert.Equal(EpochLog.AddResult.OutOfRange, _log.Add(Write(1, 4, 0, 1), null, out _));
        Assert.Equal(EpochLog.AddResult.OutOfRange, _log.Add(Write(1, 8, 0, 1), null, out _));
        Assert.Equal(EpochLog.AddResult.Added, _log.Add(Write(1, 5, 0, 1), null, out _));
        Assert.Equal(EpochLog.AddResult.Added, _log.Add(Write(1, 7, 0, 1), null, out _));
        Assert.False(_log.IsComplete);
        Assert.Equal(EpochLog.AddResult.Added, _log.Add(Write(1, 6, 0, 1), null, out _));
        Assert.True(_log.IsComplete);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(8)]
    public void A_checkpoint_that_leaves_a_held_record_outside_its_range_is_refused(long heldSequence)
    {
        _log.Add(Write(1, heldSequence, 0, 1), null, out _);
        Assert.False(_log.SetCheckpoint(CheckpointFor(1, 5, 7)));
    }

    [Fact]
    public void A_checkpoint_whose_range_holds_every_record_is_taken_at_its_edges()
    {
        _log.Add(Write(1, 5, 0, 1), null, out _);
        _log.Add(Write(1, 7, 0, 1), null, out _);
        Assert.True(_log.SetCheckpoint(CheckpointFor(1, 5, 7)));
        Assert.False(_log.IsComplete);
    }

    [Fact]
    public void Without_its_checkpoint_an_epoch_is_never_complete()
    {
        _log.Add(Write(1, 1, 0, 1), null, out _);
        Assert.False(_log.IsComplete);
        Assert.True(_log.SetCheckpoint(CheckpointFor(1, 1, 1)));
        Assert.True(_log.IsComplete);
    }

    [Fact]
    public void Sealing_puts_records_that_arrived_out_of_order_in_sequence_order()
    {
        foreach (long sequence in new long[] { 3, 1, 4, 2 })
        {
            Assert.Equal(EpochLog.AddResult.Added, _log.Add(Write(1, sequence, 0, (byte)sequence), null, out _));
        }

        _log.Seal();
        Assert.Equal([1L, 2, 3, 4], _log.Records.ToArray().Select(r => r.Record.Sequence));
    }

    [Fact]
    public void The_digest_is_the_same_whatever_order_the_records_arrived_in()
    {
        MirrorRecord[] records = [Write(1, 1, 0, 1), Write(1, 2, 4096, 2), Flush(1, 3)];
        foreach (MirrorRecord record in records.Reverse())
        {
            _log.Add(record, null, out _);
        }

        Assert.Equal(CheckpointFor(1, 1, 3, records).Digest, _log.Digest);
    }

    [Fact]
    public void Release_returns_every_payload_to_its_owner_and_empties_the_log()
    {
        var owners = new[] { new CountingOwner(), new CountingOwner() };
        _log.Add(Write(1, 1, 0, 1), owners[0], out _);
        _log.Add(Write(1, 2, 0, 2), owners[1], out _);

        _log.Release();
        Assert.All(owners, o => Assert.Equal(1, o.Disposed));
        Assert.Equal((0, 0L), (_log.Count, _log.BufferBytes));
    }

    [Fact]
    public void A_reused_log_starts_its_new_epoch_from_nothing()
    {
        _log.Add(Write(1, 9, 0, 1), null, out _);
        _log.Add(Write(1, 8, 0, 2), null, out _);
        _log.SetCheckpoint(CheckpointFor(1, 8, 9));
        _log.Release();

        EpochLog reused = _log.Reuse(2, incarnation: 7);
        Assert.Equal((2L, 7L), (reused.Epoch, reused.Incarnation));
        Assert.Null(reused.Checkpoint);
        Assert.Equal(0UL, reused.Digest);

        // Sequence 5 is below what the old epoch saw, yet it is new here and arrives in order.
        MirrorRecord a = Write(2, 5, 0, 3);
        MirrorRecord b = Write(2, 6, 0, 4);
        Assert.Equal(EpochLog.AddResult.Added, reused.Add(a, null, out _));
        Assert.Equal(EpochLog.AddResult.Added, reused.Add(b, null, out _));
        Assert.Equal(CheckpointFor(2, 5, 6, a, b).Digest, reused.Digest);
        Assert.Equal(a.BufferCost + b.BufferCost, reused.BufferBytes);
    }
}
