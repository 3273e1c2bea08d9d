using Replicator.Qemu.Config;
using Replicator.Qemu.Guests;

namespace Replicator.Qemu.Tests.Support;

/// <summary>The counting guest (<see cref="CountingGuest"/>) as these tests boot it through the adapter, on a disk of their own.</summary>
internal static class TestGuest
{
    public static CountingGuestFiles Build() => CountingGuestBuilder.Build(CountingGuestBuilder.DefaultDirectory);

    /// <summary>A configuration for the guest with its disk at <paramref name="disk"/>, sockets in <paramref name="dir"/>.</summary>
    public static VmConfig Config(CountingGuestFiles guest, string dir, string disk, string ramFile) =>
        VmConfigFile.Parse(CountingGuest.Config(guest, dir, "guest", ramFile, disk), dir);

    /// <summary>The highest sequence number recorded on a disk image of the guest (0 if none); every record must sit at its own sector.</summary>
    public static long HighestRecord(string disk)
    {
        long highest = 0;
        foreach ((int sector, long seq) in CountingGuest.Records(File.ReadAllBytes(disk)))
        {
            Assert.True(seq % CountingGuest.RecordSectors == sector, $"record {seq} found at sector {sector}");
            highest = Math.Max(highest, seq);
        }

        return highest;
    }
}
