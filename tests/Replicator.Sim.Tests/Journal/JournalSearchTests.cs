using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Hosts.Storage;
using Replicator.InMemory;

namespace Replicator.Sim.Tests.Journal;

/// <summary>
/// Past an entry it cannot read, the journal searches the rest of the file for a whole newer entry
/// (that is what tells damage from a torn tail). It reads the file in windows: an entry is found
/// wherever it lies against their seams, and the search reads each byte about once.
/// </summary>
public class JournalSearchTests
{
    private readonly JournalFixture _journal = new();

    [Theory]
    [InlineData(-5)]
    [InlineData(-4)] // the magic's last byte is the first window's last
    [InlineData(-3)] // the magic straddles the seam: three bytes in the first window, one in the next
    [InlineData(-2)]
    [InlineData(-1)]
    [InlineData(0)] // the magic starts right after the first window
    [InlineData(1)]
    public void A_whole_entry_past_damage_is_found_wherever_it_lies_against_the_search_s_windows(int fromSeam)
    {
        // The search starts one byte into the damaged entry; the next entry starts fromSeam bytes
        // from where its first window ends.
        long secondSize = 1 + EpochJournal.SearchWindowBytes + fromSeam;
        (MemoryStorageDirectory directory, long[] offsets) = EntriesWithSecondOfSize(secondSize);
        Assert.Equal(secondSize, offsets[2] - offsets[1]);
        JournalFixture.Flip(JournalFixture.File(directory), offsets[1] + 8);

        var refused = Assert.Throws<InvalidDataException>(() => JournalFixture.Open(directory, out _));

        Assert.Contains($"a whole entry of epoch 3 follows at byte {offsets[2]}", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Megabytes_of_older_entries_behind_a_reuse_from_the_front_are_read_once()
    {
        var reads = new ReadCounter();
        var directory = new MemoryStorageDirectory("state", reads);
        EpochJournal journal = JournalFixture.Open(directory, out _);
        List<EpochLog> epochs = JournalFixture.Seal(42, e => [BlockRequest.Write(0, e <= 40 ? 65536 : 4096)]);
        for (int i = 0; i < 40; i++)
        {
            journal.Append(epochs[i]);
        }

        journal.Release(40);
        journal.Append(epochs[40]);
        journal.Append(epochs[41]);
        journal.Dispose();
        long stale = JournalFixture.File(directory).Size - journal.Length;
        Assert.True(stale > 2 * EpochJournal.SearchWindowBytes);

        reads.Count = 0;
        using EpochJournal reopened = JournalFixture.Open(directory, out List<JournalEntry> entries, appliedEpoch: 40);

        Assert.Equal([41, 42], entries.Select(e => e.Checkpoint.Epoch));
        // Per whole entry a header and a body; per window one read; per older entry met, its header.
        long windows = (stale / EpochJournal.SearchWindowBytes) + 2;
        Assert.InRange(reads.Count, 1, (2 * 2) + windows + 40 + 2);
    }

    /// <summary>Three entries, the second of exactly <paramref name="size"/> bytes (its vCPU state sized to fit).</summary>
    private (MemoryStorageDirectory Directory, long[] Offsets) EntriesWithSecondOfSize(long size)
    {
        const int Probe = 70_000; // the vCPU state's encoded length prefix is of one size from here on
        long probed = EntrySizes(Probe)[1];
        int cpuState = (int)(Probe + size - probed);
        (MemoryStorageDirectory directory, _) = _journal.NewDirectory();
        EpochJournal journal = JournalFixture.Open(directory, out _);
        foreach (EpochLog epoch in Epochs(cpuState))
        {
            journal.Append(epoch);
        }

        long[] offsets = journal.EntriesHeld().Select(e => e.Offset).ToArray();
        journal.Dispose();
        return (directory, offsets);
    }

    private long[] EntrySizes(int secondCpuState)
    {
        (MemoryStorageDirectory directory, _) = _journal.NewDirectory();
        using EpochJournal journal = JournalFixture.Open(directory, out _);
        foreach (EpochLog epoch in Epochs(secondCpuState))
        {
            journal.Append(epoch);
        }

        return journal.EntriesHeld().Select(e => (long)e.Length).ToArray();
    }

    private static List<EpochLog> Epochs(int secondCpuState) =>
        JournalFixture.Seal(3, e => [BlockRequest.Write(e * 4096, 4096)], e => e == 2 ? secondCpuState : 0);

    private sealed class ReadCounter : IStorageFaults
    {
        public int Count { get; set; }

        public void BeforeCall(StorageCall kind, string name) => Count += kind == StorageCall.Read ? 1 : 0;
    }
}
