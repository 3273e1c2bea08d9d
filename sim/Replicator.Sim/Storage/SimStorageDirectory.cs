using Replicator.Core.Storage;

namespace Replicator.Sim.Storage;

/// <summary>
/// A simulated state directory, with what the real storage code relies on from a file system made
/// explicit: a rename replaces its target in one step; a change of names (create, rename, delete)
/// survives a power cut only once the directory was synced — until then a power cut brings back the
/// names as last synced (a renamed file's old contents, a created file gone).
/// </summary>
internal sealed class SimStorageDirectory(string location, SimDiskContext disk) : IStorageDirectory
{
    private Dictionary<string, SimFile> _names = new(StringComparer.Ordinal);
    private Dictionary<string, SimFile> _durableNames = new(StringComparer.Ordinal);

    public string Location { get; } = location;

    public SimDiskContext Disk { get; } = disk;

    /// <summary>The file a name points at now (for checkers), or null.</summary>
    public SimFile? Peek(string name) => _names.GetValueOrDefault(name);

    public string Describe(string name) => $"{Location}/{name}";

    public bool Exists(string name)
    {
        Disk.Power.BeforeCall();
        return _names.ContainsKey(name);
    }

    public IBlockDevice Open(string name)
    {
        Disk.Power.BeforeCall();
        return _names.TryGetValue(name, out SimFile? file)
            ? new SimBlockDevice(Describe(name), file, Disk)
            : throw new FileNotFoundException($"{Describe(name)} does not exist", Describe(name));
    }

    public IBlockDevice Create(string name, long size)
    {
        Disk.Power.BeforeCall();
        Disk.ChargeUs(Disk.Profile.WriteUs);
        var file = new SimFile(size);
        _names[name] = file;
        return new SimBlockDevice(Describe(name), file, Disk);
    }

    public void Replace(string source, string target)
    {
        Disk.Power.BeforeCall();
        Disk.ChargeUs(Disk.Profile.WriteUs);
        if (!_names.Remove(source, out SimFile? file))
        {
            throw new FileNotFoundException($"{Describe(source)} does not exist", Describe(source));
        }

        _names[target] = file;
    }

    public void Delete(string name)
    {
        Disk.Power.BeforeCall();
        _names.Remove(name);
    }

    public void Sync()
    {
        Disk.Power.BeforeCall();
        Disk.ChargeUs(Disk.Profile.FlushUs);
        _durableNames = new Dictionary<string, SimFile>(_names, StringComparer.Ordinal);
    }

    /// <summary>The power goes: names fall back to the last synced ones, and every file keeps a legal subset of its cache.</summary>
    public void PowerCut(Random random)
    {
        foreach (SimFile file in _names.Values.Concat(_durableNames.Values).Distinct())
        {
            file.PowerCut(random);
        }

        _names = new Dictionary<string, SimFile>(_durableNames, StringComparer.Ordinal);
    }
}
