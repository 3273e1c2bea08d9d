using Replicator.Qemu.Guests;

namespace Replicator.EndToEnd.Tests.Vm;

/// <summary>The counting guest (<see cref="CountingGuest"/>) as the daemons run it: on their own export, its RAM on /dev/shm.</summary>
internal static class CountingGuestConfig
{
    public static CountingGuestFiles Build() => CountingGuestBuilder.Build(CountingGuestBuilder.DefaultDirectory);

    /// <summary>
    /// Writes a node's VM configuration: sockets in <paramref name="directory"/>, RAM on /dev/shm
    /// at <paramref name="ramFile"/> (the guest's whole RAM in tmpfs: the test deletes it).
    /// </summary>
    public static string Write(CountingGuestFiles guest, string directory, string name, out string ramFile, bool heavyWrites = false)
    {
        string path = Path.Combine(directory, $"{name}-vm.json");
        ramFile = $"/dev/shm/replicator-e2e-{name}-{Guid.NewGuid():N}.ram";
        File.WriteAllText(path, CountingGuest.Config(guest, directory, name, ramFile, heavyWrites: heavyWrites));
        return path;
    }
}
