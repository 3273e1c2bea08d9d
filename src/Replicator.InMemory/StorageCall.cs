namespace Replicator.InMemory;

/// <summary>One call the storage code makes on an in-memory device or directory, as a fault hook sees it.</summary>
public enum StorageCall
{
    Read,
    Write,
    Flush,
    Resize,

    /// <summary>A directory call: exists, open, create, rename, delete or sync.</summary>
    Directory,
}
