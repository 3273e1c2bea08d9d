using Replicator.Core.Blocks;
using Replicator.Core.Guest;

namespace Replicator.Core.Tests.Pair;

/// <summary>The synthetic guest as a benchmark's load generator (<see cref="SyntheticGuestOptions.KeepsRecord"/> off).</summary>
public class LoadGeneratorGuestTests
{
    private static SyntheticGuest LoadGenerator(double pagesPerRequest = 0) => new(new SyntheticGuestOptions
    {
        Seed = 5, DiskBytes = 4 << 20, RamPages = 64, MaxWriteBytes = 64 * 1024, FixedWriteBytes = 16 * 1024,
        FlushProbability = 0, FuaProbability = 0, WriteZeroesProbability = 0, TrimProbability = 0, OverlapProbability = 0,
        PagesDirtiedPerRequest = pagesPerRequest, KeepsRecord = false,
    });

    [Fact]
    public void Writes_have_the_fixed_size_land_aligned_to_it_and_reuse_payloads_made_up_front()
    {
        SyntheticGuest guest = LoadGenerator();
        List<GuestRequest> requests = Enumerable.Range(0, 2_000).Select(_ => guest.NextRequest()).ToList();

        Assert.All(requests, r => Assert.Equal((BlockOp.Write, 16 * 1024, 0L, 16 * 1024), (r.Request.Op, r.Request.Length, r.Request.Offset % (16 * 1024), r.Payload.Length)));
        Assert.True(requests.Select(r => r.Payload).Distinct().Count() < requests.Count, "payloads should be reused, not made per write");
    }

    [Fact]
    public void A_fractional_dirty_rate_accumulates_and_pages_are_dirtied_in_turn()
    {
        SyntheticGuest guest = LoadGenerator(pagesPerRequest: 0.25);
        guest.CaptureChanges(1); // the first capture carries all of RAM

        for (int i = 0; i < 40; i++)
        {
            guest.NextRequest();
        }

        // 40 requests at a quarter page each: ten distinct pages, in turn.
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), guest.CaptureChanges(2).Pages.Select(p => p.Index));
        Assert.Null(guest.ExpectedAt(2));
    }

    [Fact]
    public void A_fixed_size_that_is_not_a_power_of_two_sectors_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SyntheticGuest(new SyntheticGuestOptions { FixedWriteBytes = 3 * 512 }));
    }
}
