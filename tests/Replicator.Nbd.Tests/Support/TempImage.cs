namespace Replicator.Nbd.Tests.Support;

/// <summary>A zero-filled raw image in the temp directory, deleted on dispose.</summary>
internal sealed class TempImage : IDisposable
{
    public TempImage(long size)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"replicator-nbd-{Guid.NewGuid():N}.img");
        using FileStream file = File.Create(Path);
        file.SetLength(size);
    }

    public string Path { get; }

    public byte[] ReadAll()
    {
        using var file = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        byte[] bytes = new byte[file.Length];
        file.ReadExactly(bytes);
        return bytes;
    }

    public void Dispose() => File.Delete(Path);
}
