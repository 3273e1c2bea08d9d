using System.Runtime.Versioning;
using Replicator.Qemu.Ram;

namespace Replicator.Qemu.Tests;

/// <summary>The guest's RAM file holds its memory: only its owner may read or write it, however it is made.</summary>
[UnsupportedOSPlatform("windows")]
public sealed class GuestRamFileTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("replicator-ram-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void A_new_or_restored_RAM_file_is_owner_only_and_holds_what_it_was_given()
    {
        string empty = Path.Combine(_directory, "empty.ram");
        GuestRamFile.CreateEmpty(empty, 8192);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(empty));
        Assert.Equal(8192, new FileInfo(empty).Length);

        string restored = Path.Combine(_directory, "restored.ram");
        File.WriteAllBytes(restored, [1, 2, 3]); // an old file, world-readable: replaced, not reused
        File.SetUnixFileMode(restored, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        byte[] ram = [.. Enumerable.Range(0, 4096).Select(i => (byte)i)];
        GuestRamFile.WriteImage(restored, ram);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(restored));
        Assert.Equal(ram, File.ReadAllBytes(restored));
    }
}
