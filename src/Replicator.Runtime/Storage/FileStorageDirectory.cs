using Replicator.Core.Storage;

namespace Replicator.Runtime.Storage;

/// <summary>A node's state directory on the real file system: files owner-only, renames atomic, the directory fsynced.</summary>
public sealed class FileStorageDirectory : IStorageDirectory
{
    public FileStorageDirectory(string location)
    {
        Location = Path.GetFullPath(location);
        if (!Directory.Exists(Location))
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(Location);
            }
            else
            {
                Directory.CreateDirectory(Location, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }
    }

    public string Location { get; }

    public string Describe(string name) => Path.Combine(Location, name);

    public bool Exists(string name) => File.Exists(Describe(name));

    public IBlockDevice Open(string name)
    {
        string path = Describe(name);
        return File.Exists(path) ? ImageFile.OpenGrowable(path, create: false) : throw new FileNotFoundException($"{path} does not exist", path);
    }

    public IBlockDevice Create(string name, long size)
    {
        ImageFile file = ImageFile.OpenGrowable(Describe(name), create: true);
        file.SetSize(size);
        return file;
    }

    public void Replace(string source, string target) => File.Move(Describe(source), Describe(target), overwrite: true);

    public void Delete(string name) => File.Delete(Describe(name));

    public void Sync() => Durability.SyncDirectory(Location);
}
