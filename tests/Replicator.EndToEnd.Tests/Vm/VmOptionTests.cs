namespace Replicator.EndToEnd.Tests.Vm;

/// <summary><c>--vm</c> and <c>--vm-config</c> refused before anything starts: one line naming the problem, exit code 1.</summary>
public sealed class VmOptionTests
{
    [Theory]
    [InlineData("primary")]
    [InlineData("secondary")]
    public async Task A_misspelt_vm_kind_is_one_line_and_exit_code_1(string role)
    {
        await using var pair = new DaemonPair();
        pair.CreateImages(DaemonPair.ImageBytes, DaemonPair.ImageBytes);
        (int code, string output) = await ReplicatorProcess.RunAsync([.. Node(pair, role), "--vm", "qemuu"]);
        Assert.Equal(1, code);
        Assert.Equal($"replicator {role}: --vm 'qemuu' must be none or qemu", output.Trim());
    }

    [Fact]
    public async Task A_guest_ram_other_than_ram_kb_is_refused_naming_both()
    {
        await using var pair = new DaemonPair();
        pair.CreateImages(DaemonPair.ImageBytes, DaemonPair.ImageBytes);
        string config = Config(pair, "\"memoryMiB\": 128,");
        (int code, string output) = await ReplicatorProcess.RunAsync([.. Node(pair, "primary"), "--vm", "qemu", "--vm-config", config, "--ram-kb", "65536"]);
        Assert.Equal(1, code);
        Assert.Single(output.Trim().Split('\n'));
        Assert.Contains("--ram-kb 65536 does not match the VM configuration's memoryMiB 128 (131072 KiB)", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_misspelt_field_in_the_vm_configuration_is_refused_naming_it()
    {
        await using var pair = new DaemonPair();
        pair.CreateImages(DaemonPair.ImageBytes, DaemonPair.ImageBytes);
        string config = Config(pair, "\"memoryMiB\": 128, \"memoryMb\": 64,");
        (int code, string output) = await ReplicatorProcess.RunAsync([.. Node(pair, "primary"), "--vm", "qemu", "--vm-config", config, "--ram-kb", "131072"]);
        Assert.Equal(1, code);
        Assert.Single(output.Trim().Split('\n'));
        Assert.Contains("memoryMb", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Qemu_without_a_configuration_is_refused()
    {
        await using var pair = new DaemonPair();
        pair.CreateImages(DaemonPair.ImageBytes, DaemonPair.ImageBytes);
        (int code, string output) = await ReplicatorProcess.RunAsync([.. Node(pair, "secondary"), "--vm", "qemu"]);
        Assert.Equal(1, code);
        Assert.Equal("replicator secondary: --vm qemu needs --vm-config FILE (the VM configuration, see docs/vm.md)", output.Trim());
    }

    private static string[] Node(DaemonPair pair, string role) => role == "primary"
        ? ["primary", "--image", pair.PrimaryImage, "--state-dir", pair.PrimaryState, "--peer", $"127.0.0.1:{pair.SecondaryPort}", "--nbd", $"127.0.0.1:{pair.PrimaryNbd}", "--insecure-link"]
        : ["secondary", "--image", pair.SecondaryImage, "--state-dir", pair.SecondaryState, "--listen", $"127.0.0.1:{pair.SecondaryPort}", "--nbd", $"127.0.0.1:{pair.SecondaryNbd}", "--insecure-link"];

    /// <summary>A configuration whose kernel exists (an empty file: nothing is booted).</summary>
    private static string Config(DaemonPair pair, string memory)
    {
        string kernel = pair.FileInDirectory("vmlinuz");
        File.WriteAllBytes(kernel, []);
        string path = pair.FileInDirectory("vm.json");
        File.WriteAllText(path, $$"""
            { {{memory}} "boot": { "kernel": "{{kernel}}" }, "qmpSocket": "{{pair.FileInDirectory("vm.qmp")}}", "ramFile": "/dev/shm/replicator-e2e-unused.ram" }
            """);
        return path;
    }
}
