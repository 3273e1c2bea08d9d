using Replicator.Hosts.Storage;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Vm;
using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;
using Replicator.Runtime.Storage;

namespace Replicator.Runtime.Tests.Storage;

/// <summary>The secondary's files under the real engine: commit, apply, crash, recover.</summary>
public sealed class SecondaryStoreTests : IDisposable
{
    private const int PageSize = 4096;
    private const long RamBytes = 8 * PageSize;
    private static readonly BlockGeometry Geometry = new(256 * 1024, 64 * 1024);

    private readonly string _directory = Directory.CreateTempSubdirectory("replicator-store-").FullName;

    private string ImagePath => Path.Combine(_directory, "disk.img");

    private string StateDirectory => Path.Combine(_directory, "state");

    public SecondaryStoreTests() => ImageFile.Create(ImagePath, Geometry.DiskBytes).Dispose();

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private (SecondaryStore Store, StorePump Pump) Open()
    {
        SecondaryStore store = SecondaryStore.Open(ImageFile.Open(ImagePath), new FileStorageDirectory(StateDirectory), "pair-1", RamBytes, PageSize);
        var pump = new StorePump(store);
        pump.Engine = store.CreateEngine(new SecondaryOptions { Geometry = Geometry, BufferCapacityBytes = 1 << 20 }, pump);
        return (store, pump);
    }

    private static MirrorRecord Write(long epoch, long sequence, long offset, byte fill) =>
        new(epoch, sequence, BlockRequest.Write(offset, 4096), Enumerable.Repeat(fill, 4096).ToArray());

    private static void Send(SecondaryEngine engine, long epoch, long first, params MirrorRecord[] records)
    {
        var digest = default(EpochDigest);
        foreach (MirrorRecord record in records)
        {
            engine.OnMirror(record);
            digest.Add(record);
        }

        var snapshot = new VmSnapshot(epoch, [(byte)epoch], [new VmPage(epoch % 8, Enumerable.Repeat((byte)(0x40 + epoch), PageSize).ToArray())]);
        engine.OnCheckpoint(new CheckpointRecord(epoch, first, first + records.Length - 1, digest.Value, snapshot, snapshot.ComputeDigest()));
    }

    private byte ImageByteAt(long offset)
    {
        using ImageFile image = ImageFile.Open(ImagePath, readOnly: true);
        byte[] one = new byte[512];
        image.Read(offset, one);
        return one[0];
    }

    [Fact]
    public void Committed_epochs_reach_the_image_the_RAM_image_and_the_state_record_and_the_journal_empties()
    {
        (SecondaryStore store, StorePump pump) = Open();
        using (store)
        {
            Send(pump.Engine, 1, 1, Write(1, 1, 0, 0xA1), Write(1, 2, 8192, 0xA2));
            Send(pump.Engine, 2, 3, Write(2, 3, 0, 0xB1));
            pump.Run();

            Assert.Equal([1L, 2], pump.Acks);
            Assert.Equal(2, store.State.AppliedEpoch);
            Assert.Equal(3, store.State.AppliedLastSequence);
            Assert.Equal(0, store.Journal.Length);
            VmState vm = store.LoadVmState();
            Assert.Equal(2, vm.Epoch);
            Assert.Equal([(byte)2], vm.CpuState);
            Assert.Equal(0x42, vm.Ram[2 * PageSize]);
        }

        Assert.Equal(0xB1, ImageByteAt(0));
        Assert.Equal(0xA2, ImageByteAt(8192));
        Assert.Equal(2, new NodeStateStore(new FileStorageDirectory(StateDirectory)).Load()!.AppliedEpoch);
    }

    [Fact]
    public void The_RAM_image_is_flushed_before_an_applied_record_only_when_pages_were_written_since_its_last_flush()
    {
        (SecondaryStore store, _) = Open();
        using (store)
        {
            var ram = (ImageFile)store.Ram;
            long opened = ram.FlushesToDisk;

            // The first record flushes whatever an earlier process may have left unflushed.
            store.MarkApplied(1, 0);
            Assert.Equal(opened + 1, ram.FlushesToDisk);

            // A batch without pages (no VM, an idle guest): nothing of the RAM image to make durable.
            store.ApplyVmSnapshot(new VmSnapshot(2, [2], []));
            store.MarkApplied(2, 0);
            Assert.Equal(opened + 1, ram.FlushesToDisk);

            store.ApplyVmSnapshot(new VmSnapshot(3, [3], [new VmPage(1, Enumerable.Repeat((byte)0x43, PageSize).ToArray())]));
            store.MarkApplied(3, 0);
            Assert.Equal(opened + 2, ram.FlushesToDisk);
            Assert.Equal(3, store.State.AppliedEpoch);
        }
    }

    [Fact]
    public void The_takeover_s_VM_state_is_read_into_the_buffer_kept_for_it_whatever_it_held()
    {
        (SecondaryStore store, StorePump pump) = Open();
        using (store)
        {
            Send(pump.Engine, 1, 1, Write(1, 1, 0, 0xA1));
            Send(pump.Engine, 2, 2, Write(2, 2, 0, 0xB1));
            pump.Run();
            byte[] kept = new byte[store.Ram.Size];
            Array.Fill(kept, (byte)0xEE);

            VmState read = store.LoadVmState([], kept);
            VmState fresh = store.LoadVmState([]);

            Assert.True(read.Ram.Overlaps(kept), "the state was not read into the buffer kept for it");
            Assert.True(fresh.Ram.SequenceEqual(read.Ram), "the state read into the buffer differs");
            Assert.Equal(2, read.Epoch);
            Assert.Equal([(byte)2], read.CpuState);

            // A buffer of another size is not the RAM's: a fresh array is read instead.
            Assert.False(store.LoadVmState([], kept[..4096]).Ram.Overlaps(kept));
        }
    }

    [Fact]
    public void A_crash_after_the_commit_but_before_the_apply_is_recovered_from_the_journal()
    {
        (SecondaryStore store, StorePump pump) = Open();
        using (store)
        {
            Send(pump.Engine, 1, 1, Write(1, 1, 0, 0xA1));
            Send(pump.Engine, 2, 2, Write(2, 2, 4096, 0xB1));

            // Journal epoch 1, acknowledge it, then die before any image write.
            pump.Run(limit: 1);
            Assert.Equal([1L], pump.Acks);
        }

        Assert.Equal(0, ImageByteAt(0));
        (store, pump) = Open();
        using (store)
        {
            Assert.Single(store.Unapplied);
            Assert.Equal(1, pump.Engine.LastCommittedEpoch);
            pump.Run();
            Assert.Equal(1, store.State.AppliedEpoch);
        }

        Assert.Equal(0xA1, ImageByteAt(0));
        Assert.Equal(0, ImageByteAt(4096)); // epoch 2 was never committed: gone with the crash
    }

    [Fact]
    public void Once_everything_is_applied_the_journal_is_reused_from_the_front_and_older_entries_behind_new_ones_are_not_recovered()
    {
        string journal = Path.Combine(StateDirectory, "journal.bin");
        (SecondaryStore store, StorePump pump) = Open();
        using (store)
        {
            Send(pump.Engine, 1, 1, Write(1, 1, 0, 0xA1), Write(1, 2, 8192, 0xA2), Write(1, 3, 16384, 0xA3));
            pump.Run();
            long highWater = new FileInfo(journal).Length;
            Assert.True(highWater > 0);
            Assert.Equal(0, store.Journal.Length);

            // Epoch 2 is smaller than epoch 1 was: it lands at the front, epoch 1's tail behind it.
            Send(pump.Engine, 2, 4, Write(2, 4, 4096, 0xB1));
            pump.Run(limit: 1); // journalled and acknowledged, then a crash before the apply
            Assert.Equal(highWater, new FileInfo(journal).Length);
        }

        (store, pump) = Open();
        using (store)
        {
            Assert.Equal(2, Assert.Single(store.Unapplied).Checkpoint.Epoch);
            Assert.Equal(2, pump.Engine.LastCommittedEpoch);
            pump.Run();
            Assert.Equal(2, store.State.AppliedEpoch);
        }

        Assert.Equal(0xB1, ImageByteAt(4096));
        Assert.Equal(0xA3, ImageByteAt(16384));
    }

    [Fact]
    public void A_torn_journal_tail_is_not_committed_and_is_cut_off()
    {
        (SecondaryStore store, StorePump pump) = Open();
        using (store)
        {
            Send(pump.Engine, 1, 1, Write(1, 1, 0, 0xA1));
            Send(pump.Engine, 2, 2, Write(2, 2, 0, 0xB1));
            pump.Run(limit: 1); // epoch 1 journalled; a crash strikes while epoch 2's entry is half written
        }

        string journal = Path.Combine(StateDirectory, "journal.bin");
        long whole = new FileInfo(journal).Length;
        File.AppendAllText(journal, "half an entry");

        (store, pump) = Open();
        using (store)
        {
            Assert.Equal(whole, store.Journal.Length);
            Assert.Equal(whole, new FileInfo(journal).Length);
        }
    }

    [Fact]
    public void A_damaged_journal_entry_ends_recovery_there()
    {
        (SecondaryStore store, StorePump pump) = Open();
        using (store)
        {
            Send(pump.Engine, 1, 1, Write(1, 1, 0, 0xA1));
            pump.Run(limit: 1);
        }

        string journal = Path.Combine(StateDirectory, "journal.bin");
        byte[] bytes = File.ReadAllBytes(journal);
        bytes[^1] ^= 0xFF;
        File.WriteAllBytes(journal, bytes);

        (store, _) = Open();
        using (store)
        {
            Assert.Empty(store.Unapplied);
            Assert.Equal(0, store.Journal.Length);
        }
    }

    [Fact]
    public void A_damaged_entry_before_an_intact_one_is_refused_naming_the_journal_and_the_file_is_left_as_it_was()
    {
        (SecondaryStore store, StorePump pump) = Open();
        using (store)
        {
            Send(pump.Engine, 1, 1, Write(1, 1, 0, 0xA1));
            Send(pump.Engine, 2, 2, Write(2, 2, 4096, 0xA2));
            pump.Run(limit: 2); // both journalled (and acknowledged), neither applied
        }

        string journal = Path.Combine(StateDirectory, "journal.bin");
        byte[] bytes = File.ReadAllBytes(journal);
        bytes[EpochJournal.HeaderSize + 40] ^= 0x01; // inside epoch 1's entry
        File.WriteAllBytes(journal, bytes);

        var refused = Assert.Throws<InvalidDataException>(() => Open());

        Assert.Contains(journal, refused.Message, StringComparison.Ordinal);
        Assert.Equal(bytes, File.ReadAllBytes(journal));
    }

    [Fact]
    public void A_forced_failover_reads_a_damaged_journal_up_to_the_damage_names_what_it_discards_and_never_writes_the_file()
    {
        (SecondaryStore store, StorePump pump) = Open();
        using (store)
        {
            Send(pump.Engine, 1, 1, Write(1, 1, 0, 0xC1));
            Send(pump.Engine, 2, 2, Write(2, 2, 4096, 0xC2));
            Send(pump.Engine, 3, 3, Write(3, 3, 8192, 0xC3));
            pump.Run(limit: 3); // all three journalled (and acknowledged), none applied
        }

        string journal = Path.Combine(StateDirectory, "journal.bin");
        byte[] bytes = File.ReadAllBytes(journal);
        int second = EpochJournal.HeaderSize + BitConverter.ToInt32(bytes, 4);
        bytes[second + EpochJournal.HeaderSize + 40] ^= 0x01; // inside epoch 2's entry
        File.WriteAllBytes(journal, bytes);

        Assert.Throws<InvalidDataException>(() => Open());
        store = SecondaryStore.Open(ImageFile.Open(ImagePath), new FileStorageDirectory(StateDirectory), "pair-1", RamBytes, PageSize, discardUnverifiable: true);
        pump = new StorePump(store);
        using (store)
        {
            pump.Engine = store.CreateEngine(new SecondaryOptions { Geometry = Geometry, BufferCapacityBytes = 1 << 20 }, pump);
            Assert.Equal([1L], store.Unapplied.Select(e => e.Checkpoint.Epoch));
            JournalDamage damage = Assert.IsType<JournalDamage>(store.Journal.Damage);
            Assert.Equal(1, damage.LastVerifiableEpoch);
            Assert.Equal(3, damage.NextEpoch);
            Assert.Equal(second, damage.Offset);
            Assert.Contains("epochs after 1 and before 3", damage.ToString(), StringComparison.Ordinal);

            pump.Run(); // epoch 1 applied and released: the file is still not touched
            Assert.Equal(1, store.State.AppliedEpoch);
        }

        Assert.Equal(bytes, File.ReadAllBytes(journal));
        Assert.Equal(0xC1, ImageByteAt(0));
        Assert.Equal(0, ImageByteAt(4096));
        Assert.Equal(0, ImageByteAt(8192));
    }

    [Fact]
    public void A_promoted_node_never_replays_a_journal_entry_beyond_the_checkpoint_it_took_over_from()
    {
        (SecondaryStore store, StorePump pump) = Open();
        using (store)
        {
            Send(pump.Engine, 1, 1, Write(1, 1, 0, 0xB1));
            pump.Run(); // journalled, applied, recorded
            store.MarkPromoted(DateTimeOffset.UnixEpoch, store.State.AppliedEpoch);

            // An append left in the journal after the promotion (one whose flush failed, say).
            Send(pump.Engine, 2, 2, Write(2, 2, 0, 0xB2));
            pump.Run(limit: 1);
        }

        (store, _) = Open();
        using (store)
        {
            Assert.Empty(store.Unapplied);
            Assert.Equal(NodeRole.Primary, store.State.Role);
            Assert.Equal(1, store.State.AppliedEpoch);
        }

        byte[] image = File.ReadAllBytes(ImagePath);
        Assert.All(image.AsSpan(0, 4096).ToArray(), b => Assert.Equal(0xB1, b));
    }

    [Fact]
    public void A_node_restarted_mid_takeover_replays_what_it_took_over_and_no_more_and_leaves_the_new_primarys_state_record_alone()
    {
        (SecondaryStore store, StorePump pump) = Open();
        using (store)
        {
            Send(pump.Engine, 1, 1, Write(1, 1, 0, 0xC1));
            pump.Run(); // epoch 1 applied
            Send(pump.Engine, 2, 2, Write(2, 2, 4096, 0xC2));
            Send(pump.Engine, 3, 3, Write(3, 3, 8192, 0xC3));
            pump.Run(limit: 2); // both journalled, neither written back

            // Taken over at 2; epoch 3 stands for an append whose flush failed (never acknowledged).
            store.MarkPromoted(DateTimeOffset.UnixEpoch, 2);
            Assert.Equal((2L, 1L, 1L), (store.Drain!.Epoch, store.Drain.AppliedEpoch, store.Drain.AppliedLastSequence));

            // The new primary starts over the same state directory and records its own state.
            var states = new NodeStateStore(new FileStorageDirectory(StateDirectory));
            states.Save(states.Load()! with { DirtyLogId = 7, AppliedEpoch = -1, PromotedFrom = null });
        }

        (store, pump) = Open(); // the node died before the drain began
        using (store)
        {
            Assert.Equal([2L], store.Unapplied.Select(e => e.Checkpoint.Epoch));
            Assert.Equal(1, store.AppliedEpoch);
            Assert.Null(pump.Engine.Promote());
            pump.Run();

            Assert.Equal(SecondaryPhase.Promoted, pump.Engine.Phase);
            Assert.Equal(2, store.Drain!.AppliedEpoch);
            Assert.True(store.Drain.IsDrained);
            NodeState state = new NodeStateStore(new FileStorageDirectory(StateDirectory)).Load()!;
            Assert.Equal((7UL, -1L, NodeRole.Primary), (state.DirtyLogId, state.AppliedEpoch, state.Role));
        }

        (store, _) = Open();
        using (store)
        {
            Assert.Empty(store.Unapplied);
        }

        Assert.Equal((0xC1, 0xC2, 0), (ImageByteAt(0), ImageByteAt(4096), ImageByteAt(8192)));
    }

    [Fact]
    public void A_takeover_at_the_checkpoint_that_completes_a_sync_not_yet_written_back_holds_the_primarys_generations()
    {
        var primary = DataGenerations.None.Begin(GenerationMark.Draw(GenerationCause.Created, DateTimeOffset.UnixEpoch));
        (SecondaryStore store, StorePump pump) = Open();
        using (store)
        {
            store.RecordSyncTarget(primary, firstEpoch: 1);
            Send(pump.Engine, 1, 1, Write(1, 1, 0, 0xD1));
            pump.Run(limit: 1); // journalled (it completes the sync), not written back

            store.MarkPromoted(DateTimeOffset.UnixEpoch, 1);

            Assert.Equal(primary.Current, Assert.Single(store.State.Generations.History));
            Assert.Equal(new TakeoverPoint(1, primary.Current!.Id), store.State.PromotedFrom);
            Assert.Null(store.State.SyncTarget);
        }
    }

    [Fact]
    public void A_takeover_drain_record_no_promotion_stands_behind_is_dropped_at_start()
    {
        Open().Store.Dispose();
        new TakeoverDrainStore(new FileStorageDirectory(StateDirectory)).Save(new TakeoverDrain { Epoch = 5, AppliedEpoch = 3 });

        (SecondaryStore store, _) = Open();
        using (store)
        {
            Assert.Null(store.Drain);
            Assert.False(File.Exists(Path.Combine(StateDirectory, TakeoverDrainStore.FileName)));
        }
    }

    [Fact]
    public void A_state_directory_of_another_pair_is_refused()
    {
        Open().Store.Dispose();
        var e = Assert.Throws<InvalidDataException>(() => SecondaryStore.Open(ImageFile.Open(ImagePath), new FileStorageDirectory(StateDirectory), "pair-2", RamBytes, PageSize));
        Assert.Contains("belongs to pair 'pair-1'", e.Message, StringComparison.Ordinal);
    }
}
