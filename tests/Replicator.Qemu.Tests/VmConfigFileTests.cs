using Replicator.Qemu.Config;
using Replicator.Qemu.Processes;

namespace Replicator.Qemu.Tests;

public sealed class VmConfigFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmcfg-").FullName;

    public VmConfigFileTests()
    {
        File.WriteAllText(Path.Combine(_dir, "vmlinuz"), "k");
        File.WriteAllText(Path.Combine(_dir, "initrd"), "i");
        File.WriteAllText(Path.Combine(_dir, "disk.raw"), "d");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_complete_file_is_read_with_relative_paths_taken_from_its_directory()
    {
        string path = Path.Combine(_dir, "vm.json");
        File.WriteAllText(path, """
            {
              // comments are allowed
              "memoryMiB": 128,
              "accelerator": "tcg",
              "boot": { "kernel": "vmlinuz", "initrd": "initrd", "commandLine": "console=ttyS0" },
              "disk": { "file": "disk.raw", "format": "raw", "cache": "writeback" },
              "qmpSocket": "vm.qmp",
              "ramFile": "vm.ram",
              "extraArguments": ["-smp", "1", "-no-reboot"],
              "commandTimeoutMs": 2000,
            }
            """);

        VmConfig config = VmConfigFile.Load(path);

        Assert.Equal(128, config.MemoryMiB);
        Assert.Equal(128L << 20, config.RamBytes);
        Assert.Equal(Path.Combine(_dir, "vmlinuz"), config.Boot!.Kernel);
        Assert.Equal("console=ttyS0", config.Boot.CommandLine);
        Assert.Equal(new DiskConfig(Path.Combine(_dir, "disk.raw"), DiskFormat.Raw, DiskCache.Writeback), config.Disk);
        Assert.Equal(Path.Combine(_dir, "vm.qmp"), config.QmpSocket);
        Assert.Equal(Path.Combine(_dir, "vm.qmp.migrate"), config.MigrationSocket);
        Assert.Equal(["-smp", "1", "-no-reboot"], config.ExtraArguments);
        Assert.Equal(TimeSpan.FromSeconds(2), config.CommandTimeout);
        Assert.Equal("qemu-system-x86_64", config.QemuBinary);
    }

    [Fact]
    public void An_nbd_disk_is_taken_as_a_URI_and_boots_without_a_kernel()
    {
        VmConfig config = Parse("""{"memoryMiB": 64, "disk": {"file": "nbd://127.0.0.1:10809/"}, "qmpSocket": "q", "ramFile": "r"}""");
        Assert.True(config.Disk!.IsNbd);
        Assert.Equal("nbd://127.0.0.1:10809/", config.Disk.File);
        Assert.Null(config.Boot);
        Assert.Equal(DiskCache.None, config.Disk.Cache);
    }

    [Theory]
    [InlineData("""{"boot": {"kernel": "vmlinuz"}, "qmpSocket": "q", "ramFile": "r"}""", "memoryMiB")]
    [InlineData("""{"memoryMiB": 8, "boot": {"kernel": "vmlinuz"}, "qmpSocket": "q", "ramFile": "r"}""", "memoryMiB")]
    [InlineData("""{"memoryMiB": 4096, "boot": {"kernel": "vmlinuz"}, "qmpSocket": "q", "ramFile": "r"}""", "memoryMiB")]
    [InlineData("""{"memoryMiB": "lots", "boot": {"kernel": "vmlinuz"}, "qmpSocket": "q", "ramFile": "r"}""", "memoryMiB")]
    [InlineData("""{"memoryMiB": 128, "qmpSocket": "q", "ramFile": "r"}""", "boot")]
    [InlineData("""{"memoryMiB": 128, "boot": {}, "qmpSocket": "q", "ramFile": "r"}""", "boot.kernel")]
    [InlineData("""{"memoryMiB": 128, "boot": {"kernel": "missing"}, "qmpSocket": "q", "ramFile": "r"}""", "boot.kernel")]
    [InlineData("""{"memoryMiB": 128, "boot": {"kernel": "vmlinuz", "initrd": "nope"}, "qmpSocket": "q", "ramFile": "r"}""", "boot.initrd")]
    [InlineData("""{"memoryMiB": 128, "disk": {"file": "nope.raw"}, "qmpSocket": "q", "ramFile": "r"}""", "disk.file")]
    [InlineData("""{"memoryMiB": 128, "disk": {"file": "disk.raw", "format": "vmdk"}, "qmpSocket": "q", "ramFile": "r"}""", "disk.format")]
    [InlineData("""{"memoryMiB": 128, "boot": {"kernel": "vmlinuz"}, "ramFile": "r"}""", "qmpSocket")]
    [InlineData("""{"memoryMiB": 128, "boot": {"kernel": "vmlinuz"}, "qmpSocket": "q"}""", "ramFile")]
    [InlineData("""{"memoryMiB": 128, "boot": {"kernel": "vmlinuz"}, "qmpSocket": "/no/such/dir/q", "ramFile": "r"}""", "qmpSocket")]
    [InlineData("""{"memoryMiB": 128, "boot": {"kernel": "vmlinuz"}, "qmpSocket": "q", "ramFile": "a,b"}""", "ramFile")]
    [InlineData("""{"memoryMiB": 128, "boot": {"kernel": "vmlinuz"}, "qmpSocket": "q", "ramFile": "q"}""", "ramFile")]
    [InlineData("""{"memoryMiB": 128, "boot": {"kernel": "vmlinuz"}, "qmpSocket": "q", "ramFile": "r", "accelerator": "hvf"}""", "accelerator")]
    [InlineData("""{"memoryMiB": 128, "boot": {"kernel": "vmlinuz"}, "qmpSocket": "q", "ramFile": "r", "extraArguments": ["-m", "256"]}""", "extraArguments[0]")]
    [InlineData("""{"memoryMiB": 128, "boot": {"kernel": "vmlinuz"}, "qmpSocket": "q", "ramFile": "r", "extraArguments": ["-smp", ""]}""", "extraArguments[1]")]
    [InlineData("""{"memoryMiB": 128, "boot": {"kernel": "vmlinuz"}, "qmpSocket": "q", "ramFile": "r", "extraArguments": ["--incoming", "tcp:0:1"]}""", "extraArguments[0]")]
    [InlineData("""{"memoryMiB": 128, "boot": {"kernel": "vmlinuz"}, "qmpSocket": "q", "ramFile": "r", "commandTimeoutMs": 5}""", "commandTimeoutMs")]
    [InlineData("""{"memoryMiB": 128, "boot": {"kernel": "vmlinuz"}, "qmpSocket": "q", "ramFile": "r", "machine": "pc,accel=kvm"}""", "machine")]
    [InlineData("""{"memoryMiB": 128, "boot": {"kernel": "vmlinuz"}, "qmpSocket": "q", "ramFile": "r", "memoryMb": 128}""", "memoryMb")]
    public void A_bad_field_is_refused_by_name(string json, string field)
    {
        VmConfigException error = Assert.Throws<VmConfigException>(() => Parse(json));
        Assert.Equal(field, error.Field);
        Assert.StartsWith($"VM configuration: {field}: ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_socket_path_too_long_for_a_Unix_socket_is_refused()
    {
        string longName = new('s', 120);
        VmConfigException error = Assert.Throws<VmConfigException>(() => Parse($$"""{"memoryMiB": 128, "boot": {"kernel": "vmlinuz"}, "qmpSocket": "{{longName}}", "ramFile": "r"}"""));
        Assert.Equal("qmpSocket", error.Field);
        Assert.Contains("at most 107", error.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_that_is_not_an_object_is_refused()
    {
        Assert.Equal("(file)", Assert.Throws<VmConfigException>(() => Parse("null")).Field);
        Assert.Equal("(file)", Assert.Throws<VmConfigException>(() => Parse("{")).Field);
        Assert.Equal("(file)", Assert.Throws<VmConfigException>(() => VmConfigFile.Load(Path.Combine(_dir, "absent.json"))).Field);
    }

    [Fact]
    public void The_command_line_puts_RAM_in_the_shared_file_and_QMP_on_the_adapter_socket()
    {
        VmConfig config = Parse("""{"memoryMiB": 96, "boot": {"kernel": "vmlinuz", "commandLine": "console=ttyS0"}, "disk": {"file": "disk.raw"}, "qmpSocket": "q", "ramFile": "r", "extraArguments": ["-smp", "1"]}""");

        IReadOnlyList<string> boot = QemuCommandLine.Build(config, LaunchMode.Boot);
        string line = string.Join(' ', boot);
        Assert.Contains($"memory-backend-file,id={QemuCommandLine.RamBackendId},share=on,mem-path={Path.Combine(_dir, "r")},size=96M", line, StringComparison.Ordinal);
        Assert.Contains($"-machine pc,memory-backend={QemuCommandLine.RamBackendId}", line, StringComparison.Ordinal);
        Assert.Contains($"-chardev socket,id=replicator-qmp,path={Path.Combine(_dir, "q")}", line, StringComparison.Ordinal);
        Assert.Contains($"-drive file={Path.Combine(_dir, "disk.raw")},format=raw,if=virtio,cache=none", line, StringComparison.Ordinal);
        Assert.Equal(["-smp", "1"], boot.TakeLast(2));
        Assert.DoesNotContain("-incoming", boot);

        IReadOnlyList<string> incoming = QemuCommandLine.Build(config, LaunchMode.Incoming);
        Assert.Contains("-S", incoming);
        Assert.Equal("defer", incoming[incoming.ToList().IndexOf("-incoming") + 1]);
    }

    private VmConfig Parse(string json) => VmConfigFile.Parse(json, _dir);
}
