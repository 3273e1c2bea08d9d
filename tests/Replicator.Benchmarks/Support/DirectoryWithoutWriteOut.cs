using Replicator.Core.Storage;

namespace Replicator.Benchmarks.Support;

/// <summary>
/// A state directory whose devices ignore <see cref="IBlockDevice.StartWriteOut"/> (the interface's
/// default): the journal as it was before it started its writes out ahead of the commit, for a
/// baseline measured in the same run.
/// </summary>
internal sealed class DirectoryWithoutWriteOut(IStorageDirectory inner) : IStorageDirectory
{
    public string Location => inner.Location;

    public string Describe(string name) => inner.Describe(name);

    public bool Exists(string name) => inner.Exists(name);

    public IBlockDevice Open(string name) => new Device(inner.Open(name));

    public IBlockDevice Create(string name, long size) => new Device(inner.Create(name, size));

    public void Replace(string source, string target) => inner.Replace(source, target);

    public void Delete(string name) => inner.Delete(name);

    public void Sync() => inner.Sync();

    private sealed class Device(IBlockDevice device) : IBlockDevice
    {
        public string Name => device.Name;

        public long Size => device.Size;

        public void Read(long offset, Span<byte> destination) => device.Read(offset, destination);

        public void Write(long offset, ReadOnlySpan<byte> data) => device.Write(offset, data);

        public void Flush() => device.Flush();

        public void SetSize(long size) => device.SetSize(size);

        public void Dispose() => device.Dispose();
    }
}
