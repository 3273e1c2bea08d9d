using System.Text;
using Replicator.Qemu.Config;
using Replicator.Qemu.Guests;
using Replicator.Qemu.Tests.Support;

namespace Replicator.Qemu.Tests;

public class CountingGuestTests
{
    [Fact]
    public void A_cpio_entry_is_a_newc_header_its_name_and_its_data_each_padded_to_four_bytes()
    {
        using var stream = new MemoryStream();
        var archive = new CpioArchive(stream);
        archive.AddFile("init", "abc"u8, executable: true);
        archive.Finish();
        string text = Encoding.ASCII.GetString(stream.ToArray());

        // inode 1, mode 0100755, uid, gid, nlink 1, mtime, size 3, 4 device numbers, name size 5 (with its NUL), check.
        Assert.StartsWith("070701" + "00000001" + "000081ED" + "00000000" + "00000000" + "00000001" + "00000000" + "00000003"
            + "00000000" + "00000000" + "00000000" + "00000000" + "00000005" + "00000000" + "init\0" + "\0" + "abc\0" + "070701", text, StringComparison.Ordinal);
        Assert.Contains("TRAILER!!!\0", text, StringComparison.Ordinal);
        Assert.Equal(0, stream.Length % 4);
    }

    [Fact]
    public void Console_lines_and_disk_records_are_read_as_the_guest_writes_them()
    {
        Assert.Equal(42, CountingGuest.Counter("counter 42"));
        Assert.Equal(43, CountingGuest.Counter("counter 4counter 43"));
        Assert.Null(CountingGuest.Counter("guest ready"));

        byte[] disk = new byte[1024 * 512];
        Encoding.ASCII.GetBytes("seq 000000001025\n").CopyTo(disk, 1 * 512);
        Encoding.ASCII.GetBytes("seq 000000000002\n").CopyTo(disk, 2 * 512);
        Encoding.ASCII.GetBytes("seq 00000000000x\n").CopyTo(disk, 3 * 512);
        Assert.Equal(new Dictionary<int, long> { [1] = 1025, [2] = 2 }, CountingGuest.Records(disk));
    }

    [Fact]
    public void Its_configuration_passes_the_adapter_s_checks_and_heavy_writes_go_on_the_kernel_command_line()
    {
        var guest = new CountingGuestFiles(typeof(CountingGuestTests).Assembly.Location, typeof(CountingGuestTests).Assembly.Location, "test");
        string dir = Path.GetTempPath();
        VmConfig quiet = VmConfigFile.Parse(CountingGuest.Config(guest, dir, "n", "/dev/shm/replicator-unit.ram"), dir);
        VmConfig heavy = VmConfigFile.Parse(CountingGuest.Config(guest, dir, "n", "/dev/shm/replicator-unit.ram", "nbd://127.0.0.1:1/", heavyWrites: true), dir);

        Assert.Equal(CountingGuest.MemoryMiB, quiet.MemoryMiB);
        Assert.Null(quiet.Disk);
        Assert.DoesNotContain(CountingGuest.HeavyWritesOption, quiet.Boot!.CommandLine, StringComparison.Ordinal);
        Assert.Contains(CountingGuest.HeavyWritesOption, heavy.Boot!.CommandLine, StringComparison.Ordinal);
        Assert.Equal("nbd://127.0.0.1:1/", heavy.Disk!.File);
    }

    [QemuFact]
    public void A_guest_built_once_is_not_built_again_until_its_init_or_kernel_changes()
    {
        string dir = Directory.CreateTempSubdirectory("rq-guest-").FullName;
        try
        {
            CountingGuestFiles first = CountingGuestBuilder.Build(dir);
            DateTime built = File.GetLastWriteTimeUtc(first.Initrd);
            File.SetLastWriteTimeUtc(first.Initrd, built.AddMinutes(-5));

            CountingGuestBuilder.Build(dir);
            Assert.Equal(built.AddMinutes(-5), File.GetLastWriteTimeUtc(first.Initrd));

            // Another stamp (another kernel or init script): built afresh.
            File.WriteAllText(Path.Combine(dir, "guest.stamp"), "another build");
            CountingGuestBuilder.Build(dir);
            Assert.NotEqual(built.AddMinutes(-5), File.GetLastWriteTimeUtc(first.Initrd));
            Assert.Equal(File.ReadAllBytes(first.Kernel).Length, new FileInfo(Directory.GetFiles("/boot", $"vmlinuz-{first.KernelVersion}").Single()).Length);
            Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
