using Replicator.Core.Storage;

namespace Replicator.Testing;

/// <summary>
/// A state directory whose devices hand every <see cref="IBlockDevice.StartWriteOut"/> to
/// <paramref name="writeOut"/> instead of the device: a test records them, a benchmark drops them
/// (null) to measure the journal as it was before it started its writes out. Everything else goes
/// to the directory and devices underneath.
/// </summary>
internal sealed class WriteOutInterceptingDirectory(IStorageDirectory inner, Action<long, long>? writeOut) : IStorageDirectory
{
    public string Location => inner.Location;

    public string Describe(string name) => inner.Describe(name);

    public bool Exists(string name) => inner.Exists(name);

    public IBlockDevice Open(string name) => new Device(inner.Open(name), writeOut);

    public IBlockDevice Create(string name, long size) => new Device(inner.Create(name, size), writeOut);

    public void Replace(string source, string target) => inner.Replace(source, target);

    public void Delete(string name) => inner.Delete(name);

    public void Sync() => inner.Sync();

    private sealed class Device(IBlockDevice device, Action<long, long>? writeOut) : IBlockDevice
    {
        public string Name => device.Name;

        public long Size => device.Size;

        public void Read(long offset, Span<byte> destination) => device.Read(offset, destination);

        public void Write(long offset, ReadOnlySpan<byte> data) => device.Write(offset, data);

        public void Flush() => device.Flush();

        public void SetSize(long size) => device.SetSize(size);

        public void StartWriteOut(long offset, long length) => writeOut?.Invoke(offset, length);

        public void Dispose() => device.Dispose();
    }
}
