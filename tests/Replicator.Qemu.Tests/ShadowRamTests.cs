using Replicator.Core.Vm;
using Replicator.Qemu.Ram;

namespace Replicator.Qemu.Tests;

public sealed unsafe class ShadowRamTests
{
    private const int Page = 4096;

    public static TheoryData<VectorWidth> Widths()
    {
        var data = new TheoryData<VectorWidth>();
        foreach (VectorWidth width in Enum.GetValues<VectorWidth>().Where(PageCompare.IsSupported))
        {
            data.Add(width);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void The_first_capture_takes_every_page_and_an_unchanged_RAM_then_gives_none(VectorWidth width)
    {
        byte[] ram = Random(1500 * Page);
        using var shadow = new ShadowRam(ram.Length, Page, parallelism: 2, width);
        var pool = new PagePool(Page, 64);

        RamCapture first = Capture(shadow, ram, CaptureScope.Changes, pool);
        Assert.Equal(1500, first.PagesCopied);
        Assert.Equal(Enumerable.Range(0, 1500).Select(i => (long)i), first.Pages.Select(p => p.Index));
        AssertPagesMatch(first.Pages, ram);

        RamCapture second = Capture(shadow, ram, CaptureScope.Changes, pool);
        Assert.Empty(second.Pages);
        Assert.Equal(1500, second.PagesCompared);
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Only_pages_that_differ_are_taken_whether_at_their_first_or_last_byte(VectorWidth width)
    {
        byte[] ram = Random(1100 * Page);
        using var shadow = new ShadowRam(ram.Length, Page, parallelism: 2, width);
        var pool = new PagePool(Page, 64);
        Capture(shadow, ram, CaptureScope.Changes, pool);

        ram[0] ^= 1;                          // page 0, first byte
        ram[(2 * Page) - 1] ^= 1;             // page 1, last byte
        ram[(511 * Page) + Page - 1] ^= 0x40; // the last page of the first chunk
        ram[512 * Page] ^= 0x40;              // the first page of the second chunk
        ram[^1] ^= 0xff;                      // the last byte of the RAM

        RamCapture changes = Capture(shadow, ram, CaptureScope.Changes, pool);
        Assert.Equal(new long[] { 0, 1, 511, 512, 1099 }, changes.Pages.Select(p => p.Index));
        AssertPagesMatch(changes.Pages, ram);

        // The shadow moved on: the same RAM again is no change.
        Assert.Empty(Capture(shadow, ram, CaptureScope.Changes, pool).Pages);
    }

    [Fact]
    public void Every_page_changed_gives_every_page_in_order()
    {
        byte[] ram = Random(700 * Page);
        using var shadow = new ShadowRam(ram.Length, Page, parallelism: 2);
        var pool = new PagePool(Page, 1024);
        Capture(shadow, ram, CaptureScope.Changes, pool);
        for (int i = 0; i < ram.Length; i += Page)
        {
            ram[i + (i / Page % Page)] ^= 0x5a;
        }

        RamCapture changes = Capture(shadow, ram, CaptureScope.Changes, pool);
        Assert.Equal(Enumerable.Range(0, 700).Select(i => (long)i), changes.Pages.Select(p => p.Index));
        AssertPagesMatch(changes.Pages, ram);
    }

    [Fact]
    public void Capturing_all_takes_every_page_even_when_nothing_changed()
    {
        byte[] ram = Random(40 * Page);
        using var shadow = new ShadowRam(ram.Length, Page);
        var pool = new PagePool(Page, 64);
        Capture(shadow, ram, CaptureScope.Changes, pool);
        Assert.Equal(40, Capture(shadow, ram, CaptureScope.All, pool).PagesCopied);
    }

    [Fact]
    public void Captures_applied_in_order_rebuild_the_RAM_exactly()
    {
        byte[] ram = Random(300 * Page);
        using var shadow = new ShadowRam(ram.Length, Page);
        var pool = new PagePool(Page, 512);
        var state = new VmState(ram.Length, Page);
        var random = new Random(3);
        for (long epoch = 1; epoch <= 20; epoch++)
        {
            for (int i = 0; i < random.Next(0, 40); i++)
            {
                ram[random.Next(ram.Length)] = (byte)random.Next(256);
            }

            RamCapture capture = Capture(shadow, ram, CaptureScope.Changes, pool);
            var snapshot = new VmSnapshot(epoch, [1, 2, 3], capture.Pages);
            state.Apply(snapshot);
            pool.Return(snapshot);
            Assert.True(state.Ram.SequenceEqual(ram), $"the state differs from the RAM after epoch {epoch}");
        }
    }

    [Fact]
    public void A_filled_shadow_sees_no_change_in_the_same_RAM()
    {
        byte[] ram = Random(16 * Page);
        using var shadow = new ShadowRam(ram.Length, Page);
        shadow.Fill(ram);
        Assert.Empty(Capture(shadow, ram, CaptureScope.Changes, new PagePool(Page, 16)).Pages);
    }

    [Fact]
    public void Sizes_that_are_not_whole_pages_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ShadowRam((10 * Page) + 1, Page));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ShadowRam(10 * Page, 3000));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ShadowRam(0, Page));
    }

    [Fact]
    public void Pooled_pages_are_exactly_a_page_long_and_come_back_for_reuse()
    {
        var pool = new PagePool(Page, 4);
        byte[] page = pool.Rent();
        Assert.Equal(Page, page.Length);
        pool.Return(page);
        Assert.Same(page, pool.Rent());
    }

    private static RamCapture Capture(ShadowRam shadow, byte[] ram, CaptureScope scope, PagePool pool)
    {
        fixed (byte* start = ram)
        {
            return shadow.Capture(start, scope, pool);
        }
    }

    private static void AssertPagesMatch(IReadOnlyList<VmPage> pages, byte[] ram)
    {
        foreach (VmPage page in pages)
        {
            Assert.True(page.Data.Span.SequenceEqual(ram.AsSpan((int)page.Index * Page, Page)), $"page {page.Index} holds other bytes than the RAM");
        }
    }

    private static byte[] Random(int length)
    {
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        return bytes;
    }
}
