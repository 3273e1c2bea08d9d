using System.Collections.Concurrent;
using Replicator.Nbd.Protocol;

namespace Replicator.Nbd.Tests.Support;

/// <summary>
/// A backend in memory that records every call ("write 0+4096 fua") and lets a test hold a call
/// (<see cref="Gate"/>) or fail it (<see cref="Fault"/>).
/// </summary>
internal sealed class MemoryBackend : INbdBackend
{
    public MemoryBackend(int size = 1 << 20, int maxRequestBytes = 64 << 10, bool readOnly = false)
    {
        Data = new byte[size];
        MaxRequestBytes = maxRequestBytes;
        IsReadOnly = readOnly;
    }

    public byte[] Data { get; }

    public long Size => Data.Length;

    public int MaxRequestBytes { get; }

    public bool IsReadOnly { get; }

    public ConcurrentQueue<string> Calls { get; } = new();

    /// <summary>Awaited before a call does anything (the call's description is passed in); the call's cancellation ends the wait.</summary>
    public Func<string, Task>? Gate { get; set; }

    /// <summary>Returns the exception a call throws instead of running, or null.</summary>
    public Func<string, Exception?>? Fault { get; set; }

    public bool ZeroesFast { get; set; }

    /// <summary>Answers block status (offset, length, room for extents → how many written); one data extent over the range when null.</summary>
    public Func<long, long, Memory<NbdExtent>, int>? Allocation { get; set; }

    public async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        await EnterAsync($"read {offset}+{destination.Length}", cancellationToken);
        Data.AsMemory((int)offset, destination.Length).CopyTo(destination);
    }

    public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, bool fua, CancellationToken cancellationToken)
    {
        await EnterAsync($"write {offset}+{data.Length}{(fua ? " fua" : "")}", cancellationToken);
        data.CopyTo(Data.AsMemory((int)offset));
    }

    public async ValueTask WriteZeroesAsync(long offset, int length, bool fua, CancellationToken cancellationToken)
    {
        await EnterAsync($"zeroes {offset}+{length}{(fua ? " fua" : "")}", cancellationToken);
        Data.AsSpan((int)offset, length).Clear();
    }

    public async ValueTask TrimAsync(long offset, int length, CancellationToken cancellationToken)
    {
        await EnterAsync($"trim {offset}+{length}", cancellationToken);
        Data.AsSpan((int)offset, length).Clear();
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken) => await EnterAsync("flush", cancellationToken);

    public async ValueTask<int> DescribeAllocationAsync(long offset, long length, Memory<NbdExtent> extents, CancellationToken cancellationToken)
    {
        await EnterAsync($"status {offset}+{length} room {extents.Length}", cancellationToken);
        if (Allocation is { } allocation)
        {
            return allocation(offset, length, extents);
        }

        extents.Span[0] = new NbdExtent(length, NbdExtentState.Data);
        return 1;
    }

    public async ValueTask PrefetchAsync(long offset, long length, CancellationToken cancellationToken) =>
        await EnterAsync($"cache {offset}+{length}", cancellationToken);

    private async Task EnterAsync(string call, CancellationToken cancellationToken)
    {
        Calls.Enqueue(call);
        if (Gate is { } gate)
        {
            await gate(call).WaitAsync(cancellationToken);
        }

        if (Fault?.Invoke(call) is { } fault)
        {
            throw fault;
        }
    }
}
