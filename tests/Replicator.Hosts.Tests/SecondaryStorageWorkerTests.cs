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

        public void Promoted(long epoch)
        {
        }
    }
}
