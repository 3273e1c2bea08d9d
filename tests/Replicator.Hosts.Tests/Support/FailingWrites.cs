using Replicator.InMemory;

namespace Replicator.Hosts.Tests.Support;

/// <summary>Every write to a file whose name contains <see cref="FailFrom"/> fails while it is set: a full disk, say.</summary>
internal sealed class FailingWrites : IStorageFaults
{
    public string? FailFrom { get; set; }

    public void BeforeCall(StorageCall kind, string name)
    {
        if (kind == StorageCall.Write && FailFrom is not null && name.Contains(FailFrom, StringComparison.Ordinal))
        {
            throw new IOException($"writing {name}: no space left on device");
        }
    }
}
