using Replicator.Protocol.Pages;

namespace Replicator.Protocol.Tests.Pages;

public class PageCacheTests
{
    private static byte[] Page(int fill, int size = 1024) => Enumerable.Repeat((byte)fill, size).ToArray();

    [Fact]
    public void The_least_recently_kept_page_is_the_one_evicted()
    {
        var cache = new PageCache(3 * 1024);
        cache.Keep(1, Page(1));
        cache.Keep(2, Page(2));
        cache.Keep(3, Page(3));
        cache.Keep(1, Page(11)); // 1 is now the newest: 2 is the oldest
        cache.Keep(4, Page(4));

        Assert.False(cache.TryGet(2, 1024, out _));
        Assert.True(cache.TryGet(1, 1024, out ReadOnlySpan<byte> one));
        Assert.Equal(11, one[0]);
        Assert.True(cache.TryGet(3, 1024, out _));
        Assert.True(cache.TryGet(4, 1024, out _));
        Assert.Equal(3, cache.Count);
    }

    [Fact]
    public void It_matches_a_plain_model_over_a_long_random_run()
    {
        var random = new Random(5);
        var cache = new PageCache(16 * 512);
        var model = new List<(long Index, byte Fill)>(); // oldest first
        cache.Keep(0, Page(0, 512));
        model.Add((0, 0));
        for (int step = 0; step < 20_000; step++)
        {
            long index = random.Next(40);
            bool otherSize = random.Next(50) == 0;
            byte fill = (byte)random.Next(256);
            cache.Keep(index, Page(fill, otherSize ? 256 : 512));
            model.RemoveAll(e => e.Index == index);
            if (!otherSize)
            {
                model.Add((index, fill));
                if (model.Count > 16)
                {
                    model.RemoveAt(0);
                }
            }

            for (long i = 0; i < 40; i++)
            {
                int at = model.FindIndex(e => e.Index == i);
                Assert.Equal(at >= 0, cache.TryGet(i, 512, out ReadOnlySpan<byte> contents));
                if (at >= 0)
                {
                    Assert.Equal(model[at].Fill, contents[511]);
                }
            }
        }
    }

    [Fact]
    public void The_first_page_kept_sets_the_size_and_a_page_of_another_size_drops_the_stale_one()
    {
        var cache = new PageCache(1 << 20);
        cache.Keep(7, Page(1, 4096));
        cache.Keep(7, Page(2, 1024));

        Assert.Equal(4096, cache.PageBytes);
        Assert.Equal(256, cache.Capacity);
        Assert.False(cache.TryGet(7, 4096, out _));
        Assert.False(cache.TryGet(7, 1024, out _));
    }

    [Fact]
    public void A_cache_of_no_bytes_keeps_nothing()
    {
        var cache = new PageCache(0);
        cache.Keep(1, Page(1));

        Assert.False(cache.TryGet(1, 1024, out _));
        Assert.Equal(0, cache.Count);
    }
}
