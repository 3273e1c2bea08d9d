using Replicator.Core.Blocks;
using Replicator.InMemory;

namespace Replicator.Core.Tests.Pair;

/// <summary>The crash-state checker itself: it accepts what §2 allows and nothing else.</summary>
public class CrashHistoryTests
{
    private static byte[] Sector(byte fill) => Enumerable.Repeat(fill, 512).ToArray();

    private static byte[] Image(params byte[] sectors) => sectors.SelectMany(Sector).ToArray();

    [Fact]
    public void A_write_before_a_completed_flush_must_survive()
    {
        var history = new CrashHistory(Image(0, 0));
        history.Write(0, Sector(1), fua: false);
        history.Flush();
        history.Write(512, Sector(2), fua: false);

        Assert.Null(history.CheckLegal(Image(1, 2)));
        Assert.Null(history.CheckLegal(Image(1, 0)));
        Assert.NotNull(history.CheckLegal(Image(0, 2)));  // B durable without A: no crash point gives that
    }

    [Fact]
    public void Unflushed_writes_may_survive_in_any_subset()
    {
        var history = new CrashHistory(Image(0, 0));
        history.Write(0, Sector(1), fua: false);
        history.Write(512, Sector(2), fua: false);

        Assert.Null(history.CheckLegal(Image(0, 2)));
        Assert.Null(history.CheckLegal(Image(1, 0)));
        Assert.NotNull(history.CheckLegal(Image(3, 0)));
    }

    [Fact]
    public void A_FUA_write_is_durable_alone()
    {
        var history = new CrashHistory(Image(0, 0, 0));
        history.Write(0, Sector(1), fua: false);
        history.Write(512, Sector(2), fua: true);
        history.Write(1024, Sector(3), fua: false);

        Assert.Null(history.CheckLegal(Image(0, 2, 0)));  // the earlier unflushed write may be lost
        Assert.Null(history.CheckLegal(Image(0, 0, 0)));  // crash before the FUA write completed
        Assert.NotNull(history.CheckLegal(Image(0, 0, 3))); // a later write survived, so the FUA write must have
    }

    [Fact]
    public void A_write_that_never_completed_is_made_durable_by_no_later_flush()
    {
        var history = new CrashHistory(Image(0, 0, 0));
        history.Write(0, Sector(1), fua: false);
        history.Flush();
        history.UncompletedWrite(0, Sector(2));   // failed: it may or may not have reached the cache
        history.UncompletedWrite(512, Sector(3));
        history.Flush();
        history.Write(1024, Sector(4), fua: false); // survived, so the crash came after both flushes

        Assert.Null(history.CheckLegal(Image(1, 0, 4)));  // it never landed: the flush had nothing of it to keep
        Assert.Null(history.CheckLegal(Image(2, 3, 4)));  // it landed in the cache, and the flush kept it
        Assert.Null(history.CheckLegal(Image(1, 3, 4)));  // sector by sector
        Assert.NotNull(history.CheckLegal(Image(0, 0, 4))); // the completed, flushed write must survive all the same
    }

    [Fact]
    public void A_completed_write_after_one_that_never_completed_is_durable_once_flushed()
    {
        var history = new CrashHistory(Image(0, 0));
        history.UncompletedWrite(0, Sector(1));
        history.Write(0, Sector(2), fua: false);
        history.Flush();
        history.Write(512, Sector(3), fua: false);

        Assert.Null(history.CheckLegal(Image(2, 3)));
        Assert.NotNull(history.CheckLegal(Image(1, 3)));
        Assert.NotNull(history.CheckLegal(Image(0, 3)));
    }

    [Fact]
    public void Record_keeps_a_failed_FUA_write_from_being_durable()
    {
        var history = new CrashHistory(Image(0, 0));
        history.Record(new BlockRequest(BlockOp.Write, 0, 512, Fua: true), Sector(1), completed: false);
        history.Record(new BlockRequest(BlockOp.Flush, 0, 0), [], completed: true);
        history.Record(new BlockRequest(BlockOp.Write, 512, 512, Fua: true), Sector(2));

        Assert.Null(history.CheckLegal(Image(0, 2)));
        Assert.Null(history.CheckLegal(Image(1, 2)));
        Assert.NotNull(history.CheckLegal(Image(3, 2)));
    }

    [Fact]
    public void A_flush_that_never_completed_makes_nothing_durable()
    {
        var history = new CrashHistory(Image(0, 0));
        history.Write(0, Sector(1), fua: false);
        history.Record(new BlockRequest(BlockOp.Flush, 0, 0), [], completed: false);
        history.Write(512, Sector(2), fua: false);

        Assert.Null(history.CheckLegal(Image(0, 2)));
    }

    [Fact]
    public void Memory_disk_power_cuts_only_produce_legal_states()
    {
        PowerCutTrials(seed: 5, trials: 200, operations: 12, flushOneIn: 5, (disk, history, random, offset, data, fua) =>
        {
            disk.Write(offset, data, fua);
            history.Write(offset, data, fua);
        });
    }

    [Fact]
    public void Memory_disk_power_cuts_after_failed_writes_and_later_flushes_only_produce_legal_states()
    {
        PowerCutTrials(seed: 11, trials: 500, operations: 16, flushOneIn: 4, (disk, history, random, offset, data, fua) =>
        {
            switch (random.Next(6))
            {
                case 0:
                    // Refused (full, an I/O error): nothing reached the disk.
                    history.UncompletedWrite(offset, data);
                    break;
                case 1:
                    // A FUA write whose data reached the cache but whose flush failed.
                    disk.Write(offset, data, fua: false);
                    history.UncompletedWrite(offset, data);
                    break;
                default:
                    disk.Write(offset, data, fua);
                    history.Write(offset, data, fua);
                    break;
            }
        });
    }

    /// <summary>
    /// Random writes and flushes on a <see cref="MemoryDisk"/> and its history side by side, then a
    /// power cut: whatever the disk keeps must be a legal crash state of the history.
    /// </summary>
    private static void PowerCutTrials(int seed, int trials, int operations, int flushOneIn, Action<MemoryDisk, CrashHistory, Random, long, byte[], bool> write)
    {
        var random = new Random(seed);
        for (int trial = 0; trial < trials; trial++)
        {
            var disk = new MemoryDisk(8 * 512);
            var history = new CrashHistory(new byte[8 * 512]);
            for (int op = 0; op < operations; op++)
            {
                if (random.Next(flushOneIn) == 0)
                {
                    disk.Flush();
                    history.Flush();
                    continue;
                }

                long offset = random.Next(7) * 512L;
                byte[] data = Enumerable.Repeat((byte)random.Next(1, 255), 1024).ToArray();
                bool fua = random.Next(6) == 0;
                write(disk, history, random, offset, data, fua);
            }

            disk.PowerCut(random);
            Assert.Null(history.CheckLegal(disk.Contents));
        }
    }
}
