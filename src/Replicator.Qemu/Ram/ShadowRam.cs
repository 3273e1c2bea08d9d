using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Replicator.Core.Vm;

namespace Replicator.Qemu.Ram;

/// <summary>
/// A copy of the guest's RAM as of the last capture. Without a dirty log (QEMU exposes none under
/// TCG, and soft-dirty bits are off), the only way to know which pages changed is to compare: each
/// capture compares the guest's RAM with this copy page by page, hands out the pages that differ
/// (copied into pooled buffers) and updates the copy. The compare runs in parallel over chunks of
/// pages, each chunk's result kept apart so the pages come out in index order.
/// </summary>
public sealed unsafe class ShadowRam : IDisposable
{
    // 512 pages (2 MiB at 4 KiB): large enough that scheduling a chunk costs little next to
    // comparing it, small enough that a 128 MiB guest still gives every core many chunks.
    private const int PagesPerChunk = 512;

    private readonly int _parallelism;
    private readonly VectorWidth _width;
    private byte* _shadow;
    private bool _filled;

    public ShadowRam(long bytes, int pageSize, int parallelism = 0, VectorWidth? width = null)
    {
        if (pageSize <= 0 || !int.IsPow2(pageSize))
        {
            throw new ArgumentOutOfRangeException(nameof(pageSize), pageSize, "a page size is a positive power of two");
        }

        if (bytes <= 0 || bytes % pageSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes, $"the RAM size must be a positive multiple of {pageSize}");
        }

        Bytes = bytes;
        PageSize = pageSize;
        _parallelism = parallelism > 0 ? parallelism : Environment.ProcessorCount;
        _width = width ?? PageCompare.Best;
        if (!PageCompare.IsSupported(_width))
        {
            throw new ArgumentOutOfRangeException(nameof(width), width, $"this CPU accelerates at most {PageCompare.Best}");
        }

        // Aligned to a cache line so the vector loads of the shadow never split one. Touched now, so
        // the kernel's first-touch faults are paid here and not during the first checkpoint's pause.
        _shadow = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        NativeMemory.Clear(_shadow, (nuint)bytes);
    }

    public long Bytes { get; }

    public int PageSize { get; }

    public long PageCount => Bytes / PageSize;

    /// <summary>Whether a capture has filled the copy yet (the first capture of changes takes every page).</summary>
    public bool IsFilled => _filled;

    /// <summary>
    /// Compares <paramref name="ram"/> (<see cref="Bytes"/> long, not changing while this runs:
    /// the guest is paused) with the copy and returns the pages that differ, or every page for
    /// <see cref="CaptureScope.All"/> and for the first capture; the copy then equals the RAM.
    /// </summary>
    public RamCapture Capture(byte* ram, CaptureScope scope, PagePool pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ObjectDisposedException.ThrowIf(_shadow is null, this);
        if (pool.PageSize != PageSize)
        {
            throw new ArgumentException($"the pool's pages are {pool.PageSize} bytes, the shadow's {PageSize}", nameof(pool));
        }

        bool all = scope == CaptureScope.All || !_filled;
        long chunks = (PageCount + PagesPerChunk - 1) / PagesPerChunk;
        var found = new List<VmPage>?[chunks];
        nint ramAddress = (nint)ram;
        Parallel.For(
            0,
            chunks,
            new ParallelOptions { MaxDegreeOfParallelism = _parallelism },
            chunk => found[chunk] = CaptureChunk((byte*)ramAddress, chunk, all, pool));
        _filled = true;

        var pages = new List<VmPage>();
        foreach (List<VmPage>? chunk in found)
        {
            if (chunk is not null)
            {
                pages.AddRange(chunk);
            }
        }

        return new RamCapture(pages, PageCount);
    }

    /// <summary>The same as <see cref="Capture(byte*, CaptureScope, PagePool)"/> for RAM held in managed memory (under 2 GiB).</summary>
    public RamCapture Capture(ReadOnlySpan<byte> ram, CaptureScope scope, PagePool pool)
    {
        if (ram.Length != Bytes)
        {
            throw new ArgumentException($"{ram.Length} bytes given for a {Bytes}-byte shadow", nameof(ram));
        }

        fixed (byte* start = ram)
        {
            return Capture(start, scope, pool);
        }
    }

    /// <summary>Makes the copy equal <paramref name="ram"/> without handing out pages (after a restore).</summary>
    public void Fill(ReadOnlySpan<byte> ram)
    {
        ObjectDisposedException.ThrowIf(_shadow is null, this);
        if (ram.Length != Bytes)
        {
            throw new ArgumentException($"{ram.Length} bytes given for a {Bytes}-byte shadow", nameof(ram));
        }

        ram.CopyTo(new Span<byte>(_shadow, ram.Length));
        _filled = true;
    }

    /// <summary>Forgets the copy: the next capture takes every page (after a capture whose pages were lost).</summary>
    public void Invalidate() => _filled = false;

    public void Dispose()
    {
        if (_shadow is not null)
        {
            NativeMemory.AlignedFree(_shadow);
            _shadow = null;
        }
    }

    // Fully optimised from the first call (see PageCompare): the first capture is the largest.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private List<VmPage>? CaptureChunk(byte* ram, long chunk, bool all, PagePool pool)
    {
        List<VmPage>? pages = null;
        long first = chunk * PagesPerChunk;
        long end = Math.Min(first + PagesPerChunk, PageCount);
        for (long page = first; page < end; page++)
        {
            byte* current = ram + (page * PageSize);
            byte* copy = _shadow + (page * PageSize);
            if (!all && PageCompare.Equal(ref Unsafe.AsRef<byte>(current), ref Unsafe.AsRef<byte>(copy), (nuint)PageSize, _width))
            {
                continue;
            }

            byte[] data = pool.Rent();
            var source = new ReadOnlySpan<byte>(current, PageSize);
            source.CopyTo(data);
            source.CopyTo(new Span<byte>(copy, PageSize));
            (pages ??= []).Add(new VmPage(page, data));
        }

        return pages;
    }
}
