using Replicator.Core.Storage;

namespace Replicator.InMemory;

/// <summary>
/// A state directory in memory, with what storage code relies on from a file system made explicit:
/// a rename replaces its target in one step, and a change of names (create, rename, delete)
/// survives a power cut only once the directory was synced — until then <see cref="PowerCut"/>
/// brings back the names as last synced (a renamed file's old contents, a created file gone).
/// </summary>
public sealed class MemoryStorageDirectory(string location = "memory", IStorageFaults? faults = null) : IStorageDirectory
{
    private Dictionary<string, MemoryDisk> _names = new(StringComparer.Ordinal);
    private Dictionary<string, MemoryDisk> _durableNames = new(StringComparer.Ordinal);

    public string Location { get; } = location;

    /// <summary>
    /// Devices opened or created here and not yet disposed: a handle storage code leaks would, on a
    /// real file system, keep a replaced file's blocks allocated.
    /// </summary>
    public int OpenDevices { get; private set; }

    /// <summary>The file a name points at now, past any fault (for checkers and tests), or null.</summary>
    public MemoryDisk? Peek(string name) => _names.GetValueOrDefault(name);

    public string Describe(string name) => $"{Location}/{name}";

    public bool Exists(string name)
    {
        faults?.BeforeCall(StorageCall.Directory, name);
        return _names.ContainsKey(name);
    }

    public IBlockDevice Open(string name)
    {
        faults?.BeforeCall(StorageCall.Directory, name);
        return _names.TryGetValue(name, out MemoryDisk? file)
            ? Track(new MemoryBlockDevice(Describe(name), file, faults, Closed))
            : throw new FileNotFoundException($"{Describe(name)} does not exist", Describe(name));
    }

    public IBlockDevice Create(string name, long size)
    {
        faults?.BeforeCall(StorageCall.Directory, name);
        var file = MemoryDisk.File(size);
        _names[name] = file;
        return Track(new MemoryBlockDevice(Describe(name), file, faults, Closed));
    }

    public void Replace(string source, string target)
    {
        faults?.BeforeCall(StorageCall.Directory, target);
        if (!_names.Remove(source, out MemoryDisk? file))
        {
            throw new FileNotFoundException($"{Describe(source)} does not exist", Describe(source));
        }

        _names[target] = file;
    }

    public void Delete(string name)
    {
        faults?.BeforeCall(StorageCall.Directory, name);
        _names.Remove(name);
    }

    public void Sync()
    {
        faults?.BeforeCall(StorageCall.Directory, Location);
        _durableNames = new Dictionary<string, MemoryDisk>(_names, StringComparer.Ordinal);
    }

    private MemoryBlockDevice Track(MemoryBlockDevice device)
    {
        OpenDevices++;
        return device;
    }

    private void Closed() => OpenDevices--;

    /// <summary>The power goes: names fall back to the last synced ones, and every file keeps a legal subset of its cache.</summary>
    public void PowerCut(Random random)
    {
        foreach (MemoryDisk file in _names.Values.Concat(_durableNames.Values).Distinct())
        {
            file.PowerCut(random);
        }

        _names = new Dictionary<string, MemoryDisk>(_durableNames, StringComparer.Ordinal);
    }
}
