using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Vm;
using Replicator.Hosts.Storage;
using Replicator.Runtime.Storage;
using Replicator.Runtime.Tests.Storage;

namespace Replicator.EndToEnd.Tests;

/// <summary>A flipped byte in a committed, unapplied journal entry, as the secondary daemon and its operator meet it.</summary>
public class JournalDamageTests
{
    private const int PageSize = 4096;

    [Fact]
    public async Task A_flipped_byte_in_an_unapplied_entry_is_refused_at_start_and_at_failover_and_forced_failover_names_what_it_discards()
    {
        await using var pair = new DaemonPair();
        pair.CreateImages(DaemonPair.ImageBytes, DaemonPair.ImageBytes);
        byte[] original = await File.ReadAllBytesAsync(pair.SecondaryImage);
        string journal = LayDownThreeUnappliedEpochs(pair);
        byte[] bytes = await File.ReadAllBytesAsync(journal);
        int second = EpochJournal.HeaderSize + BitConverter.ToInt32(bytes, 4);
        bytes[second + EpochJournal.HeaderSize + 100] ^= 0x01; // one bit inside epoch 2's entry
        await File.WriteAllBytesAsync(journal, bytes);

        // The secondary refuses to start, naming the file, the entry and what is at stake.
        pair.StartSecondary();
        Assert.NotEqual(0, await pair.Secondary!.WaitForExitAsync());
        Assert.Contains($"journal {journal} is damaged: the entry at byte {second}", pair.Secondary.Output, StringComparison.Ordinal);
        Assert.Contains("epochs after 1 and before 3 may have been acknowledged", pair.Secondary.Output, StringComparison.Ordinal);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(journal));

        // Failover has nothing to promote: the node is not running, and says so.
        (int code, string output) = await ReplicatorProcess.RunAsync("failover", "--state-dir", pair.SecondaryState);
        Assert.NotEqual(0, code);
        Assert.Contains("control.sock", output, StringComparison.Ordinal);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(journal));
        Assert.Equal(original, await File.ReadAllBytesAsync(pair.SecondaryImage));

        // The operator forces it: promoted from checkpoint 1, epochs 2 and 3 discarded, the journal kept as it was.
        await pair.Secondary.DisposeAsync();
        pair.StartSecondary("--failover-discarding-unverifiable-epochs");
        await pair.Secondary!.WaitForOutputAsync("promoted at checkpoint 1;");
        Assert.Contains("DISCARDED: this node promotes from checkpoint 1", pair.Secondary.Output, StringComparison.Ordinal);
        await Tool.QemuIo(pair.SecondaryUri, "read -P 0xc1 0 64k", "read -P 0 1M 64k", "read -P 0 2M 64k");
        Assert.Equal(bytes, await File.ReadAllBytesAsync(journal));
    }

    /// <summary>Epochs 1–3 (64 KiB of 0xC1 at 0, 0xC2 at 1 MiB, 0xC3 at 2 MiB) committed to the secondary's journal and not applied, as a crash between the two leaves them.</summary>
    private static string LayDownThreeUnappliedEpochs(DaemonPair pair)
    {
        SecondaryStore store = SecondaryStore.Open(ImageFile.Open(pair.SecondaryImage), new FileStorageDirectory(pair.SecondaryState), "replicator", PageSize, PageSize);
        using (store)
        {
            // A node that holds the pair's data: its image was taken as equal to the primary's.
            store.TakeGenerations(Protocol.Generations.DataGenerations.None.Begin(Protocol.Generations.GenerationMark.Draw(Protocol.Generations.GenerationCause.Created, DateTimeOffset.UtcNow)));
            var pump = new StorePump(store);
            var geometry = new BlockGeometry(DaemonPair.ImageBytes, 1 << 20);
            pump.Engine = store.CreateEngine(new SecondaryOptions { Geometry = geometry, BufferCapacityBytes = 16 << 20, VmPageCount = 1, VmPageSize = PageSize }, pump);
            for (int epoch = 1; epoch <= 3; epoch++)
            {
                var write = new MirrorRecord(epoch, epoch, BlockRequest.Write((epoch - 1) * (1L << 20), 64 << 10), Enumerable.Repeat((byte)(0xC0 + epoch), 64 << 10).ToArray());
                pump.Engine.OnMirror(write);
                var digest = default(EpochDigest);
                digest.Add(write);
                var snapshot = new VmSnapshot(epoch, [(byte)epoch], [new VmPage(0, new byte[PageSize])]);
                pump.Engine.OnCheckpoint(new CheckpointRecord(epoch, epoch, epoch, digest.Value, snapshot, snapshot.ComputeDigest()));
            }

            pump.Run(limit: 3); // journalled and acknowledged; the crash comes before any apply
            Assert.Equal([1L, 2, 3], pump.Acks);
        }

        return Path.Combine(pair.SecondaryState, EpochJournal.FileName);
    }
}
