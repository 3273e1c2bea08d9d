using Replicator.Core.Storage;

namespace Replicator.Hosts.Tests.Support;

/// <summary>A state directory in memory: enough of the storage seam for a host's state record.</summary>
internal sealed class MemoryStorageDirectory : IStorageDirectory
{
    private readonly Dictionary<string, MemoryDevice> _files = new(StringComparer.Ordinal);

    public string Location => "memory";

    public string Describe(string name) => $"memory/{name}";

    public bool Exists(string name) => _files.ContainsKey(name);

    public IBlockDevice Open(string name) => _files.TryGetValue(name, out MemoryDevice? device) ? device : throw new FileNotFoundException(name);

    public IBlockDevice Create(string name, long size)
    {
        var device = new MemoryDevice(name, size);
        _files[name] = device;
        return device;
    }

    public void Replace(string source, string target)
    {
        _files[target] = _files[source];
        _files.Remove(source);
    }

    public void Delete(string name) => _files.Remove(name);

    public void Sync()
    {
    }

    private sealed class MemoryDevice(string name, long size) : IBlockDevice
    {
        private byte[] _bytes = new byte[size];

        public string Name => name;

        public long Size => _bytes.Length;

        public void Read(long offset, Span<byte> destination) => _bytes.AsSpan((int)offset, destination.Length).CopyTo(destination);

        public void Write(long offset, ReadOnlySpan<byte> data)
        {
            if (offset + data.Length > _bytes.Length)
            {
                SetSize(offset + data.Length);
            }

            data.CopyTo(_bytes.AsSpan((int)offset));
        }

        public void Flush()
        {
        }

        public void SetSize(long size) => Array.Resize(ref _bytes, (int)size);

        public void Dispose()
        {
        }
    }
}
