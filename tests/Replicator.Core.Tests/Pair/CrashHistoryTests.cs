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
    public void Memory_disk_power_cuts_only_produce_legal_states()
    {
        var random = new Random(5);
        for (int trial = 0; trial < 200; trial++)
        {
            var disk = new MemoryDisk(8 * 512);
            var history = new CrashHistory(new byte[8 * 512]);
            for (int op = 0; op < 12; op++)
            {
                if (random.Next(5) == 0)
                {
                    disk.Flush();
                    history.Flush();
                    continue;
                }

                long offset = random.Next(7) * 512L;
                byte[] data = Enumerable.Repeat((byte)random.Next(1, 255), 1024).ToArray();
                bool fua = random.Next(6) == 0;
                disk.Write(offset, data, fua);
                history.Write(offset, data, fua);
            }

            disk.PowerCut(random);
            Assert.Null(history.CheckLegal(disk.Contents));
        }
    }
}
