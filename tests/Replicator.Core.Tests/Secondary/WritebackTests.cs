using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Tests.Support;
using Replicator.Core.Vm;
using static Replicator.Core.Tests.Support.Records;

namespace Replicator.Core.Tests.Secondary;

/// <summary>
/// The write-back: committed epochs go to the image in batches, one image flush, RAM flush and state
/// record per batch; rewritten ranges are left out only between barriers (I4).
/// </summary>
public class WritebackTests
{
    private readonly RecordingSecondaryActions _actions = new();
    private readonly SecondaryEngine _secondary;
    private long _sequence;

    public WritebackTests() =>
        _secondary = new SecondaryEngine(new SecondaryOptions { Geometry = Geometry, BufferCapacityBytes = 1 << 20, WritebackCapacityBytes = 1 << 20 }, _actions);

    /// <summary>Seals and commits one epoch of <paramref name="records"/> (numbered here).</summary>
    private void Commit(long epoch, params Func<long, MirrorRecord>[] records)
    {
        long first = _sequence + 1;
        MirrorRecord[] made = records.Select(make => make(++_sequence)).ToArray();
        foreach (MirrorRecord record in made)
        {
            _secondary.OnMirror(record);
        }

        _secondary.OnCheckpoint(CheckpointFor(epoch, first, _sequence, made));
        _secondary.OnEpochPersisted(epoch);
    }

    private static Func<long, MirrorRecord> W(long epoch, long offset, byte fill, int length = 4096, bool fua = false) =>
        sequence => Write(epoch, sequence, offset, fill, length, fua);

    private static Func<long, MirrorRecord> F(long epoch) => sequence => Flush(epoch, sequence);

    private static Func<long, MirrorRecord> V(long epoch, long offset) =>
        sequence => new MirrorRecord(epoch, sequence, new BlockRequest(BlockOp.Verify, offset, 4096), new byte[VerifyBlocks.PayloadLength(4096)]);

    /// <summary>The write-back actions after the last "applied" mark, or all of them.</summary>
    private List<string> WritebackSince(int from) => _actions.Log.Skip(from).Where(l => !l.StartsWith("persist", StringComparison.Ordinal) && !l.StartsWith("ack", StringComparison.Ordinal) && !l.StartsWith("credit", StringComparison.Ordinal)).ToList();

    [Fact]
    public void Epochs_committed_during_a_write_back_go_in_one_batch_with_one_flush_and_one_state_record()
    {
        Commit(1, W(1, 0, 0xA));
        int second = _actions.Log.Count;
        Commit(2, W(2, 4096, 0xB));
        Commit(3, W(3, 8192, 0xC));
        Assert.Equal(["write 1", "flush", "vm 1", "applied 1@1"], WritebackSince(0).Take(4));
        Assert.Empty(WritebackSince(second)); // waiting for epoch 1's batch

        int batch = _actions.Log.Count;
        _secondary.OnApplied(1);

        Assert.Equal(["write 2", "write 3", "flush", "vm 3", "applied 3@3"], WritebackSince(batch));
        _secondary.OnApplied(3);
        Assert.Equal(3, _secondary.LastAppliedEpoch);
        Assert.Equal(0, _secondary.BufferedBytes);
    }

    [Fact]
    public void A_batch_writes_each_RAM_page_once_as_the_last_epoch_that_dirtied_it_left_it_with_the_last_vcpu_state()
    {
        CommitWithPages(1, 0);
        CommitWithPages(2, 0, 1, 2);
        CommitWithPages(3, 1, 3);
        _secondary.OnApplied(1);

        // Epochs 2 and 3 in one batch: page 1 as epoch 3 left it, pages 0 and 2 as epoch 2 did, page 3 from epoch 3.
        VmSnapshot applied = _actions.AppliedSnapshots[^1];
        Assert.Equal((3L, (byte)3), (applied.Epoch, applied.CpuState[0]));
        Assert.Equal([(0L, (byte)0x20), (1L, (byte)0x31), (2L, (byte)0x22), (3L, (byte)0x33)], applied.Pages.Select(p => (p.Index, p.Data.Span[0])).OrderBy(p => p.Index));
        Assert.Equal(1, _secondary.CoalescedRamPages);
        Assert.Equal(["vm 1", "vm 3"], _actions.Log.Where(l => l.StartsWith("vm", StringComparison.Ordinal)));
    }

    /// <summary>Commits an epoch of one write whose snapshot dirtied <paramref name="pages"/>, each filled with 16 × epoch + index.</summary>
    private void CommitWithPages(long epoch, params long[] pages)
    {
        MirrorRecord record = Write(epoch, ++_sequence, epoch * 4096, (byte)epoch);
        _secondary.OnMirror(record);
        var digest = default(EpochDigest);
        digest.Add(record);
        var snapshot = new VmSnapshot(epoch, [(byte)epoch], [.. pages.Select(index => new VmPage(index, Filled(4096, (byte)((16 * epoch) + index))))]);
        _secondary.OnCheckpoint(new CheckpointRecord(epoch, _sequence, _sequence, digest.Value, snapshot, snapshot.ComputeDigest()));
        _secondary.OnEpochPersisted(epoch);
    }

    [Fact]
    public void A_range_rewritten_later_in_the_batch_without_a_barrier_between_is_written_once()
    {
        Commit(1, W(1, 0, 0xA));
        Commit(2, W(2, 0, 0xB), W(2, 8192, 0xC));
        Commit(3, W(3, 0, 0xD));
        int batch = _actions.Log.Count;
        _secondary.OnApplied(1);

        // Epoch 2's write at 0 is rewritten whole by epoch 3's: only the later one is written.
        Assert.Equal(["write 3", "write 4", "flush", "vm 3", "applied 3@4"], WritebackSince(batch));
        Assert.Equal(1, _secondary.CoalescedWrites);
        Assert.Equal((byte)0xD, _actions.ImageWrites.Last(w => w.Request.Offset == 0).Payload.Span[0]);
    }

    [Fact]
    public void In_a_segment_of_many_writes_each_rewritten_range_is_written_once_and_in_order()
    {
        // More writes than are compared pairwise: the rewritten ones are found through the set.
        Commit(1, W(1, 0, 0xA), W(1, 4096, 0xB), W(1, 8192, 0xC), W(1, 0, 0xD), W(1, 12288, 0xE),
            W(1, 4096, 0xF), W(1, 16384, 0x1), W(1, 20480, 0x2), W(1, 0, 0x3), W(1, 24576, 0x4));

        Assert.Equal(["write 3", "write 5", "write 6", "write 7", "write 8", "write 9", "write 10", "flush", "vm 1", "applied 1@10"], WritebackSince(0));
        Assert.Equal(3, _secondary.CoalescedWrites);
    }

    [Fact]
    public void A_flush_between_two_writes_of_a_range_keeps_both_in_order()
    {
        Commit(1, W(1, 0, 0xA), F(1), W(1, 0, 0xB));

        // A power cut after the flush must find 0xA durable: nothing is coalesced across it.
        Assert.Equal(["write 1", "flush", "write 3", "flush", "vm 1", "applied 1@3"], WritebackSince(0));
        Assert.Equal(0, _secondary.CoalescedWrites);
    }

    [Fact]
    public void A_fua_write_is_a_barrier_and_is_never_left_out()
    {
        Commit(1, W(1, 0, 0xA, fua: true), W(1, 0, 0xB));

        Assert.Equal(["write 1 fua", "write 2", "flush", "vm 1", "applied 1@2"], WritebackSince(0));
        Assert.Equal(0, _secondary.CoalescedWrites);
    }

    [Fact]
    public void A_write_rewritten_later_is_left_out_even_before_a_fua_write_of_that_range()
    {
        Commit(1, W(1, 0, 0xA), W(1, 0, 0xB, fua: true));

        Assert.Equal(["write 2 fua", "vm 1", "applied 1@2"], WritebackSince(0));
        Assert.Equal(1, _secondary.CoalescedWrites);
    }

    [Fact]
    public void A_verify_sees_every_write_before_it_so_nothing_is_coalesced_across_it()
    {
        Commit(1, W(1, 0, 0xA), V(1, 0), W(1, 0, 0xB));

        Assert.Equal(["write 1", "write 2", "write 3", "flush", "vm 1", "applied 1@3"], WritebackSince(0));
    }

    [Fact]
    public void Flushes_with_nothing_written_since_the_last_one_are_not_repeated_nor_is_the_batch_s_own()
    {
        Commit(1, F(1), W(1, 0, 0xA), F(1), F(1));

        Assert.Equal(["write 2", "flush", "vm 1", "applied 1@4"], WritebackSince(0));
    }

    [Fact]
    public void An_idle_epoch_is_written_back_without_an_image_flush_and_the_next_write_still_gets_one()
    {
        // A pair with nothing to write still checkpoints every epoch: its disk is not flushed each time.
        Commit(1);
        Assert.Equal(["vm 1", "applied 1@0"], WritebackSince(0));
        _secondary.OnApplied(1);

        int batch = _actions.Log.Count;
        Commit(2, W(2, 0, 0xA));
        Assert.Equal(["write 1", "flush", "vm 2", "applied 2@1"], WritebackSince(batch));
    }

    [Fact]
    public void Overlapping_writes_that_do_not_repeat_a_range_are_all_written_in_order()
    {
        Commit(1, W(1, 0, 0xA, length: 8192), W(1, 4096, 0xB), W(1, 0, 0xC));

        Assert.Equal(["write 1", "write 2", "write 3", "flush", "vm 1", "applied 1@3"], WritebackSince(0));
    }

    [Fact]
    public void A_batch_stops_at_its_byte_bound_and_takes_at_least_one_epoch()
    {
        var geometry = new BlockGeometry(1L << 30, 1 << 20);
        var secondary = new SecondaryEngine(new SecondaryOptions { Geometry = geometry, BufferCapacityBytes = 1L << 30, WritebackCapacityBytes = 1L << 30 }, _actions);
        byte[] payload = new byte[1 << 20]; // shared: the engine only reads payloads
        long sequence = 0;
        void CommitMiB(long epoch, int mebibytes)
        {
            var records = new List<MirrorRecord>();
            for (int i = 0; i < mebibytes; i++)
            {
                records.Add(new MirrorRecord(epoch, ++sequence, BlockRequest.Write((long)i << 20, 1 << 20), payload));
            }

            foreach (MirrorRecord record in records)
            {
                secondary.OnMirror(record);
            }

            secondary.OnCheckpoint(CheckpointFor(epoch, records[0].Sequence, sequence, [.. records]));
            secondary.OnEpochPersisted(epoch);
        }

        long bound = SecondaryEngine.MaxWritebackBatchBytes >> 20;
        CommitMiB(1, (int)bound + 1); // larger than a batch: a batch of its own all the same
        for (long epoch = 2; epoch <= 6; epoch++)
        {
            CommitMiB(epoch, (int)bound / 4); // a quarter of the bound, plus each record's overhead
        }

        Assert.Equal(1, _actions.ApplyingThrough);
        secondary.OnApplied(1);
        Assert.Equal(4, _actions.ApplyingThrough); // three quarters and their overhead fit; a fourth quarter would not
        secondary.OnApplied(4);
        Assert.Equal(6, _actions.ApplyingThrough);
        secondary.OnApplied(6);
        Assert.Equal(6, secondary.LastAppliedEpoch);
        Assert.Equal(0, secondary.BufferedBytes);
    }
}
