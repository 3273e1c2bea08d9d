using System.Buffers;
using Replicator.Core.Vm;

namespace Replicator.Qemu.Ram;

/// <summary>
/// Page-sized buffers for captured pages, reused across checkpoints so a capture does not allocate
/// a fresh array per changed page. Whoever is done with a snapshot (sent and committed, or applied)
/// may give its pages back with <see cref="Return(VmSnapshot)"/>; a page never returned is simply
/// collected, so returning is an optimisation, never a duty. A page must not be returned while
/// anything still reads it.
/// </summary>
public sealed class PagePool
{
    private readonly ArrayPool<byte> _pool;

    public PagePool(int pageSize, int maxPooledPages)
    {
        if (pageSize <= 0 || !int.IsPow2(pageSize))
        {
            throw new ArgumentOutOfRangeException(nameof(pageSize), pageSize, "a page size is a positive power of two");
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPooledPages);
        PageSize = pageSize;
        _pool = ArrayPool<byte>.Create(pageSize, maxPooledPages);
    }

    public int PageSize { get; }

    /// <summary>An array of exactly <see cref="PageSize"/> bytes, contents undefined.</summary>
    public byte[] Rent()
    {
        // The pool hands out power-of-two lengths, so a power-of-two page size comes back exact.
        byte[] page = _pool.Rent(PageSize);
        return page.Length == PageSize ? page : new byte[PageSize];
    }

    public void Return(byte[] page)
    {
        ArgumentNullException.ThrowIfNull(page);
        if (page.Length == PageSize)
        {
            _pool.Return(page);
        }
    }

    public void Return(VmSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        foreach (VmPage page in snapshot.Pages)
        {
            Return(page.Data);
        }
    }
}
