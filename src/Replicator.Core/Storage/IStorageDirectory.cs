namespace Replicator.Core.Storage;

/// <summary>
/// A node's state directory: named devices, created, replaced by rename and removed. What a file
/// system promises and storage code relies on is part of the contract, so a simulated directory
/// models it: a rename replaces its target atomically, and a change of names (create, rename,
/// delete) survives a power cut only once <see cref="Sync"/> returned (fsync of the directory).
/// Files are created readable and writable by their owner only: they hold guest data and state.
/// </summary>
public interface IStorageDirectory
{
    /// <summary>Where the directory is: named in messages an operator reads.</summary>
    string Location { get; }

    /// <summary>The full name of <paramref name="name"/> for messages (its path).</summary>
    string Describe(string name);

    bool Exists(string name);

    /// <summary>Opens an existing device; throws <see cref="FileNotFoundException"/> when there is none.</summary>
    IBlockDevice Open(string name);

    /// <summary>Creates (or empties) a device of <paramref name="size"/> bytes.</summary>
    IBlockDevice Create(string name, long size);

    /// <summary>Renames <paramref name="source"/> over <paramref name="target"/> in one step; durable after <see cref="Sync"/>.</summary>
    void Replace(string source, string target);

    void Delete(string name);

    /// <summary>Makes the directory's names durable (fsync of the directory).</summary>
    void Sync();
}
