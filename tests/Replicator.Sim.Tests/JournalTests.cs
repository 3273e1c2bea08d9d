using Replicator.Core.Epochs;
using Replicator.Core.Vm;
using Replicator.Sim.Faults;
using Replicator.Sim.Storage;
using Replicator.Sim.World;

namespace Replicator.Sim.Tests;

public class JournalTests
{
    private readonly SimScheduler _clock = new();
    private readonly DiskFaults _faults = new(new Random(1));

    [Fact]
    public void Appends_complete_one_after_another_in_order()
    {
        SimJournal journal = Journal();
        var done = new List<long>();
        for (long e = 1; e <= 5; e++)
        {
            long epoch = e;
            journal.Append(Checkpoint(epoch), [], 4096, ok => done.Add(ok ? epoch : -epoch));
        }

        _clock.RunUntil(1_000_000);

        Assert.Equal([1L, 2, 3, 4, 5], done);
        Assert.Equal(5, journal.DurableEpoch);
    }

    [Fact]
    public void A_power_cut_keeps_every_durable_entry_and_at_most_a_prefix_of_the_rest()
    {
        for (int seed = 0; seed < 50; seed++)
        {
            var clock = new SimScheduler();
            var journal = new SimJournal(clock, new DiskProfile { WriteUs = 100, FlushUs = 100, JitterUs = 0 }, _faults, new Random(seed));
            for (long e = 1; e <= 6; e++)
            {
                journal.Append(Checkpoint(e), [], 0, _ => { });
            }

            clock.RunUntil(450); // entries 1 and 2 are durable, the rest are written but not flushed
            journal.PowerCut(new Random(seed));

            long[] kept = journal.Entries.Select(e => e.Checkpoint.Epoch).ToArray();
            Assert.True(kept.Length >= 2, $"seed {seed}: a durable entry was lost");
            Assert.Equal(Enumerable.Range(1, kept.Length).Select(i => (long)i), kept);
        }
    }

    [Fact]
    public void After_a_failed_append_nothing_later_lands_until_restart()
    {
        SimJournal journal = Journal();
        _faults.Full(DiskId.SecondaryJournal, 0, 10);
        var results = new List<bool>();
        journal.Append(Checkpoint(1), [], 0, results.Add);
        _clock.RunUntil(20);
        journal.Append(Checkpoint(2), [], 0, results.Add);
        _clock.RunUntil(1_000_000);

        Assert.Equal([false, false], results);
        Assert.Empty(journal.Entries);
    }

    private SimJournal Journal() => new(_clock, new DiskProfile { WriteUs = 10, FlushUs = 50, JitterUs = 0 }, _faults, new Random(1));

    private static CheckpointRecord Checkpoint(long epoch) =>
        new(epoch, epoch, epoch - 1, 0, new VmSnapshot(epoch, [], []), new VmSnapshot(epoch, [], []).ComputeDigest());
}
