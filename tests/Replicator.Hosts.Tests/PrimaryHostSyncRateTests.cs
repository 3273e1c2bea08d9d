using Replicator.Core.Primary;
using Replicator.Hosts.Links;
using Replicator.Hosts.Primary;
using Replicator.Hosts.Tests.Support;
using Replicator.Protocol.Generations;
using static Replicator.Hosts.Tests.Support.RecordingPrimaryActions;

namespace Replicator.Hosts.Tests;

public sealed class PrimaryHostSyncRateTests
{
    private const long BytesPerSecond = 500_000;

    [Fact]
    public void A_limited_sync_reads_no_faster_than_its_rate_and_lifting_the_limit_lets_the_rest_go()
    {
        var h = new PrimaryHarness(o => o with { SyncBytesPerSecond = BytesPerSecond, DirtyRegionBytes = 64 * 1024, MaxSyncReadsInFlight = 64 });
        StartWholeSync(h);
        Assert.Equal(BytesPerSecond, h.Host.SyncBytesPerSecond);

        // Half a second may burst; from then on, 0.5 MB/s. The harness completes reads at once.
        long read = 0;
        for (int tick = 1; tick <= 20; tick++)
        {
            h.Time.Advance(TimeSpan.FromMilliseconds(25));
            h.Host.OnEpochTick();
            h.Pump(h.Host.CurrentLink);
            read = h.Actions.Of<ResyncRead>().Sum(r => (long)r.Length);
            double seconds = tick * 0.025;
            Assert.True(read <= (BytesPerSecond * (seconds + 0.5)) + (64 * 1024), $"{read} bytes read after {seconds:F3} s at {BytesPerSecond} bytes/s");
        }

        Assert.True(read > 0, $"{h.Host.Engine!.Replication} {h.Host.Engine.ResyncBytesLeft} {h.Host.Engine.Phase} {h.Host.Engine.CreditAvailable} {string.Join(",", h.Actions.Calls.Take(12))}");
        Assert.True(h.Host.Engine!.ResyncBytesLeft > 0);

        h.Host.SetSyncRate(0);
        h.Pump(h.Host.CurrentLink);
        Assert.Equal(0, h.Host.SyncBytesPerSecond);
        Assert.Equal(0, h.Host.Engine.ResyncBytesLeft);
    }

    [Fact]
    public void A_sync_with_checksums_compares_no_faster_than_the_rate_either()
    {
        var h = new PrimaryHarness(o => o with { SyncBytesPerSecond = BytesPerSecond, DirtyRegionBytes = 64 * 1024, MaxSyncReadsInFlight = 64, SyncChecksums = true });
        StartWholeSync(h);
        for (int tick = 1; tick <= 20; tick++)
        {
            h.Time.Advance(TimeSpan.FromMilliseconds(25));
            h.Host.OnEpochTick();
            h.Pump(h.Host.CurrentLink);
        }

        long read = h.Actions.Of<ResyncRead>().Sum(r => (long)r.Length);
        Assert.True(read > 0);
        Assert.True(read <= (BytesPerSecond * 1.0) + (64 * 1024), $"{read} bytes compared in 0.5 s at {BytesPerSecond} bytes/s");
    }

    [Fact]
    public void The_limit_grants_half_a_second_at_once_then_exactly_its_rate_on_the_host_s_clock()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var limit = new SyncRateLimit(BytesPerSecond, time);

        Assert.Equal(249_856, limit.Take()); // 250,000 bytes of burst, in whole 4 KiB units (61)
        Assert.Equal(0, limit.Take()); // no time passed: nothing, however long the machine took

        long granted = 0;
        for (int tick = 0; tick < 40; tick++)
        {
            time.Advance(TimeSpan.FromMilliseconds(25));
            granted += limit.Take();
        }

        // One second: the rate (and the burst's remainder), less what is still short of a 4 KiB unit.
        Assert.InRange(granted, BytesPerSecond - 4096, BytesPerSecond + 144);

        time.Advance(TimeSpan.FromMinutes(1));
        Assert.True(limit.Take() <= 250_000 + 4096, "a long gap refills the bucket once, to its burst");
    }

    /// <summary>A first start against a blank secondary: the whole 1 MiB image is copied.</summary>
    private static void StartWholeSync(PrimaryHarness h)
    {
        h.Host.Start();
        LinkId link = h.Connect();
        h.Host.OnFrame(link, PrimaryHarness.Input(h.Welcome(generations: DataGenerations.None)));
        Assert.Equal(PrimaryReplication.Resyncing, h.Host.Engine!.Replication);
    }
}
