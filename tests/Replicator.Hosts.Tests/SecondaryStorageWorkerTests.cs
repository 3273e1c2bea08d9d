using Microsoft.Extensions.Time.Testing;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Vm;
using Replicator.Hosts.Secondary;
using Replicator.Hosts.Storage;
using Replicator.Hosts.Tests.Support;
using Replicator.InMemory;

namespace Replicator.Hosts.Tests;

/// <summary>The secondary's storage operations as both shells run them: through the worker, onto the store.</summary>
public class SecondaryStorageWorkerTests
{
    private const int PageSize = 4096;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void An_applied_epoch_records_whether_it_left_the_image_mid_resync(bool resyncPending)
    {
        var directory = new MemoryStorageDirectory();
        SecondaryStore store = SecondaryStore.Open(directory.Create("disk.img", 1 << 20), directory, "pair-1", 4 * PageSize, PageSize);
        var worker = new SecondaryStorageWorker(store, new FakeTimeProvider());
        EpochLog epoch = SealedEpoch(resyncPending);

        SecondaryStorageCompletion persisted = worker.Run(new SecondaryStorageOperation(SecondaryStorageKind.Persist, Epoch: epoch));
        SecondaryStorageCompletion applied = worker.Run(new SecondaryStorageOperation(SecondaryStorageKind.MarkApplied, Number: 1, LastSequence: 1));

        Assert.Equal(SecondaryStorageResult.Done, persisted.Result);
        Assert.Equal(SecondaryStorageResult.Done, applied.Result);
        Assert.Equal(resyncPending, store.State.MidResync);
        Assert.Equal(resyncPending, new NodeStateStore(directory).Load()!.MidResync);
    }

    [Fact]
    public void A_verify_record_is_compared_with_the_image_as_it_is_and_names_the_blocks_that_differ()
    {
        var directory = new MemoryStorageDirectory();
        SecondaryStore store = SecondaryStore.Open(directory.Create("disk.img", 1 << 20), directory, "pair-1", 4 * PageSize, PageSize);
        var worker = new SecondaryStorageWorker(store, new FakeTimeProvider());
        byte[] primary = new byte[256 * 1024];
        new Random(3).NextBytes(primary);
        worker.Run(new SecondaryStorageOperation(SecondaryStorageKind.WriteImage, new MirrorRecord(1, 1, BlockRequest.Write(0, primary.Length), primary)));
        store.WriteImage(new MirrorRecord(1, 2, BlockRequest.Write(128 * 1024 + 512, 512), new byte[512])); // one block drifts
        byte[] hashes = new byte[VerifyBlocks.PayloadLength(primary.Length)];
        VerifyBlocks.Hash(primary, hashes);

        SecondaryStorageCompletion done = worker.Run(new SecondaryStorageOperation(SecondaryStorageKind.WriteImage, new MirrorRecord(1, 3, new BlockRequest(BlockOp.Verify, 0, primary.Length), hashes)));

        Assert.Equal(SecondaryStorageResult.Done, done.Result);
        Assert.Equal([128L * 1024], done.Verified!.Diverged);
        Assert.Equal((1L, 3L, 0L, primary.Length), (done.Verified.Epoch, done.Verified.Sequence, done.Verified.Offset, done.Verified.Length));
    }

    [Fact]
    public void After_a_failed_append_nothing_more_lands_in_the_journal()
    {
        var faults = new FailingWrites { FailFrom = EpochJournal.FileName };
        var directory = new MemoryStorageDirectory("state", faults);
        SecondaryStore store = SecondaryStore.Open(new MemoryBlockDevice("disk.img", new MemoryDisk(1 << 20)), directory, "pair-1", 4 * PageSize, PageSize);
        var worker = new SecondaryStorageWorker(store, new FakeTimeProvider());
        var persist = new SecondaryStorageOperation(SecondaryStorageKind.Persist, Epoch: SealedEpoch(resyncPending: false));

        SecondaryStorageCompletion failed = worker.Run(persist);
        faults.FailFrom = null; // the disk is fine again: the gap behind the failed append is not
        SecondaryStorageCompletion next = worker.Run(persist);

        Assert.Equal((SecondaryStorageResult.PersistFailed, 1L), (failed.Result, failed.Epoch));
        Assert.Equal("writing state/journal.bin: no space left on device", failed.Reason);
        Assert.Equal((SecondaryStorageResult.Skipped, 1L), (next.Result, next.Epoch));
        Assert.Equal(0, store.Journal.Length);
    }

    [Fact]
    public void A_record_written_ahead_on_the_journal_lane_is_taken_by_its_epoch_s_commit()
    {
        var directory = new MemoryStorageDirectory();
        SecondaryStore store = SecondaryStore.Open(directory.Create("disk.img", 1 << 20), directory, "pair-1", 4 * PageSize, PageSize);
        var worker = new SecondaryStorageWorker(store, new FakeTimeProvider());
        EpochLog epoch = SealedEpoch(resyncPending: false);
        var stage = new SecondaryStorageOperation(SecondaryStorageKind.StageRecord, epoch.Records[0].Record, Number: epoch.Incarnation, RecordHash: epoch.Records[0].Hash);

        SecondaryStorageCompletion staged = worker.Run(stage);
        SecondaryStorageCompletion persisted = worker.Run(new SecondaryStorageOperation(SecondaryStorageKind.Persist, Epoch: epoch));

        Assert.Equal(SecondaryStorageLane.Journal, stage.Lane);
        Assert.Equal((SecondaryStorageKind.StageRecord, 1L, SecondaryStorageResult.Done), (staged.Kind, staged.Epoch, staged.Result));
        Assert.Equal(SecondaryStorageResult.Done, persisted.Result);
        Assert.Equal((1L, 1L), (store.Journal.RecordsStaged, store.Journal.CommitsStaged));
    }

    [Fact]
    public void Only_what_the_host_acts_on_is_carried_back_to_it_every_failure_a_verify_the_commit_and_the_state_records()
    {
        var verified = new Protocol.Messages.VerifyResultMessage { Epoch = 1 };
        foreach (SecondaryStorageKind kind in Enum.GetValues<SecondaryStorageKind>())
        {
            bool write = kind is SecondaryStorageKind.StageRecord or SecondaryStorageKind.WriteImage or SecondaryStorageKind.FlushImage or SecondaryStorageKind.ApplyVm;
            Assert.Equal(!write, new SecondaryStorageCompletion(kind, 1, SecondaryStorageResult.Done).MattersToHost);
            Assert.False(new SecondaryStorageCompletion(kind, 1, SecondaryStorageResult.Skipped).MattersToHost);
            Assert.True(new SecondaryStorageCompletion(kind, 1, SecondaryStorageResult.PersistFailed, "why").MattersToHost);
            Assert.True(new SecondaryStorageCompletion(kind, 1, SecondaryStorageResult.StorageFailed, "why").MattersToHost);
        }

        Assert.True(new SecondaryStorageCompletion(SecondaryStorageKind.WriteImage, 1, SecondaryStorageResult.Done, Verified: verified).MattersToHost);
    }

    [Fact]
    public void After_a_failed_append_nothing_is_written_ahead_either()
    {
        var faults = new FailingWrites { FailFrom = EpochJournal.FileName };
        var directory = new MemoryStorageDirectory("state", faults);
        SecondaryStore store = SecondaryStore.Open(new MemoryBlockDevice("disk.img", new MemoryDisk(1 << 20)), directory, "pair-1", 4 * PageSize, PageSize);
        var worker = new SecondaryStorageWorker(store, new FakeTimeProvider());
        EpochLog epoch = SealedEpoch(resyncPending: false);
        worker.Run(new SecondaryStorageOperation(SecondaryStorageKind.Persist, Epoch: epoch));
        faults.FailFrom = null;

        SecondaryStorageCompletion staged = worker.Run(new SecondaryStorageOperation(SecondaryStorageKind.StageRecord, epoch.Records[0].Record, Number: epoch.Incarnation, RecordHash: epoch.Records[0].Hash));

        Assert.Equal(SecondaryStorageResult.Skipped, staged.Result);
        Assert.Equal(0, store.Journal.RecordsStaged);
    }

    [Fact]
    public void An_apply_is_timed_from_its_first_storage_action_to_its_state_record()
    {
        var time = new FakeTimeProvider();
        var directory = new MemoryStorageDirectory();
        SecondaryStore store = SecondaryStore.Open(directory.Create("disk.img", 1 << 20), directory, "pair-1", 4 * PageSize, PageSize);
        var worker = new SecondaryStorageWorker(store, time);
        worker.Run(new SecondaryStorageOperation(SecondaryStorageKind.Persist, Epoch: SealedEpoch(resyncPending: false)));
        var write = new SecondaryStorageOperation(SecondaryStorageKind.WriteImage, new MirrorRecord(1, 1, BlockRequest.Write(0, 4096), new byte[4096]));

        time.Advance(TimeSpan.FromMilliseconds(1));
        long firstStarted = time.GetTimestamp();
        worker.Run(write);
        time.Advance(TimeSpan.FromMilliseconds(4));
        worker.Run(new SecondaryStorageOperation(SecondaryStorageKind.FlushImage));
        time.Advance(TimeSpan.FromMilliseconds(5));
        EpochStamps first = worker.Run(new SecondaryStorageOperation(SecondaryStorageKind.MarkApplied, Number: 1, LastSequence: 1)).Stamps;
        time.Advance(TimeSpan.FromMilliseconds(7));
        long secondStarted = time.GetTimestamp();
        worker.Run(write);
        time.Advance(TimeSpan.FromMilliseconds(2));
        EpochStamps second = worker.Run(new SecondaryStorageOperation(SecondaryStorageKind.MarkApplied, Number: 1, LastSequence: 1)).Stamps;

        Assert.Equal((firstStarted, firstStarted + TimeSpan.FromMilliseconds(9).Ticks), (first.ApplyStarted, first.ApplyEnded));
        Assert.Equal((secondStarted, secondStarted + TimeSpan.FromMilliseconds(2).Ticks), (second.ApplyStarted, second.ApplyEnded));
    }

    [Fact]
    public void A_flushed_image_keeps_its_writes_through_a_power_cut()
    {
        for (int seed = 0; seed < 8; seed++)
        {
            var directory = new MemoryStorageDirectory();
            var disk = new MemoryDisk(1 << 20);
            SecondaryStore store = SecondaryStore.Open(new MemoryBlockDevice("disk.img", disk), directory, "pair-1", 4 * PageSize, PageSize);
            var worker = new SecondaryStorageWorker(store, new FakeTimeProvider());
            byte[] payload = Enumerable.Repeat((byte)0xA5, 4096).ToArray();
            worker.Run(new SecondaryStorageOperation(SecondaryStorageKind.WriteImage, new MirrorRecord(1, 1, BlockRequest.Write(8192, 4096), payload)));

            SecondaryStorageCompletion flushed = worker.Run(new SecondaryStorageOperation(SecondaryStorageKind.FlushImage));
            disk.PowerCut(new Random(seed));

            Assert.Equal(SecondaryStorageResult.Done, flushed.Result);
            Assert.Equal(payload, disk.Contents.Slice(8192, 4096).ToArray());
        }
    }

    [Fact]
    public void A_snapshot_s_pages_reach_the_RAM_image()
    {
        var directory = new MemoryStorageDirectory();
        SecondaryStore store = SecondaryStore.Open(directory.Create("disk.img", 1 << 20), directory, "pair-1", 4 * PageSize, PageSize);
        var worker = new SecondaryStorageWorker(store, new FakeTimeProvider());
        byte[] page = Enumerable.Repeat((byte)0x3C, PageSize).ToArray();

        SecondaryStorageCompletion applied = worker.Run(new SecondaryStorageOperation(SecondaryStorageKind.ApplyVm, Snapshot: new VmSnapshot(1, [1, 2], [new VmPage(2, page)])));

        Assert.Equal(SecondaryStorageResult.Done, applied.Result);
        Assert.Equal(page, directory.Peek(SecondaryStore.RamFileName)!.Contents.Slice(2 * PageSize, PageSize).ToArray());
    }

    [Fact]
    public void After_a_failed_apply_nothing_more_is_applied_so_the_epoch_stays_unapplied()
    {
        var faults = new FailingWrites();
        var directory = new MemoryStorageDirectory("state", faults);
        SecondaryStore store = SecondaryStore.Open(new MemoryBlockDevice("disk.img", new MemoryDisk(1 << 20), faults), directory, "pair-1", 4 * PageSize, PageSize);
        var worker = new SecondaryStorageWorker(store, new FakeTimeProvider());
        worker.Run(new SecondaryStorageOperation(SecondaryStorageKind.Persist, Epoch: SealedEpoch(resyncPending: false)));
        faults.FailFrom = "disk.img";

        SecondaryStorageCompletion failed = worker.Run(new SecondaryStorageOperation(SecondaryStorageKind.WriteImage, new MirrorRecord(1, 1, BlockRequest.Write(0, 4096), new byte[4096])));
        faults.FailFrom = null;
        SecondaryStorageCompletion marked = worker.Run(new SecondaryStorageOperation(SecondaryStorageKind.MarkApplied, Number: 1, LastSequence: 1));

        Assert.Equal(SecondaryStorageResult.StorageFailed, failed.Result);
        Assert.Equal("applying epoch 1 to disk.img failed: writing disk.img: no space left on device", failed.Reason);
        Assert.Equal(SecondaryStorageResult.Skipped, marked.Result);
        Assert.Equal(0, new NodeStateStore(directory).Load()!.AppliedEpoch);
        Assert.Equal([1L], store.Journal.EntriesHeld().Select(e => e.Epoch));
    }

    /// <summary>One epoch of one write, sealed by a real engine as it hands it to the journal.</summary>
    private static EpochLog SealedEpoch(bool resyncPending)
    {
        var actions = new CapturingActions();
        var engine = new SecondaryEngine(new SecondaryOptions { Geometry = new BlockGeometry(1 << 20, 64 * 1024), BufferCapacityBytes = 1 << 20 }, actions);
        var record = new MirrorRecord(1, 1, BlockRequest.Write(0, 4096), new byte[4096]);
        var digest = default(EpochDigest);
        digest.Add(record);
        engine.OnMirror(record);
        var snapshot = new VmSnapshot(1, [], []);
        engine.OnCheckpoint(new CheckpointRecord(1, 1, 1, digest.Value, snapshot, snapshot.ComputeDigest()) { ResyncPending = resyncPending });
        return actions.Persisted ?? throw new InvalidOperationException("the engine sealed nothing");
    }

    private sealed class CapturingActions : ISecondaryActions
    {
        public EpochLog? Persisted { get; private set; }

        public void PersistEpoch(EpochLog epoch) => Persisted = epoch;

        public void AcknowledgeEpoch(long epoch)
        {
        }

        public void WriteImage(in MirrorRecord record)
        {
        }

        public void FlushImage()
        {
        }

        public void ApplyVmSnapshot(VmSnapshot snapshot)
        {
        }

        public void MarkApplied(long epoch, long lastSequence)
        {
        }

        public void ReturnCredit(long bytes)
        {
        }

        public void RejectEpoch(long epoch, string reason)
        {
        }

        public void TakingOver(long epoch, CommittedOverlay overlay)
        {
        }

        public void Promoted(long epoch)
        {
        }
    }
}
