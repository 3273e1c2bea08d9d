using Replicator.Core.Storage;

namespace Replicator.InMemory;

/// <summary>
/// An open in-memory file as the storage code sees it: reads, writes and flushes land on a
/// <see cref="MemoryDisk"/> (its volatile cache), each after the fault hook had its say.
/// </summary>
public sealed class MemoryBlockDevice(string name, MemoryDisk disk, IStorageFaults? faults = null, Action? closed = null) : IBlockDevice
{
    private bool _closed;

    public string Name { get; } = name;

    public long Size => disk.Size;

    public void Read(long offset, Span<byte> destination)
    {
        Enter(StorageCall.Read);
        disk.Read(offset, destination);
    }

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        Enter(StorageCall.Write);
        disk.Write(offset, data, fua: false);
    }

    public void Flush()
    {
        Enter(StorageCall.Flush);
        disk.Flush();
    }

    public void SetSize(long size)
    {
        Enter(StorageCall.Resize);
        disk.SetSize(size);
    }

    public void Dispose()
    {
        if (!_closed)
        {
            _closed = true;
            closed?.Invoke();
        }
    }

    private void Enter(StorageCall call)
    {
        faults?.BeforeCall(call, Name);
        ObjectDisposedException.ThrowIf(_closed, this);
    }
}
