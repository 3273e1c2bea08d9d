namespace Replicator.InMemory;

/// <summary>
/// Where the simulator's faults meet in-memory storage: called before every storage call, it may
/// throw (an <see cref="IOException"/> for an injected error or a full disk; anything else, such as
/// a power cut, ends the caller). Tests that want storage that never fails pass none.
/// </summary>
public interface IStorageFaults
{
    void BeforeCall(StorageCall kind, string name);
}
