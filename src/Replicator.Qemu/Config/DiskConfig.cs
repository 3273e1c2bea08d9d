namespace Replicator.Qemu.Config;

/// <summary>The guest's disk: an image file or an NBD URI (<c>nbd://host:port/name</c>, <c>nbd+unix:///name?socket=PATH</c>).</summary>
public sealed record DiskConfig(string File, DiskFormat Format, DiskCache Cache)
{
    public bool IsNbd => File.StartsWith("nbd:", StringComparison.Ordinal) || File.StartsWith("nbd+", StringComparison.Ordinal);
}
