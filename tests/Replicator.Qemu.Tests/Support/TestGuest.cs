using System.Diagnostics;
using System.Globalization;
using System.Text;
using Replicator.Qemu.Config;

namespace Replicator.Qemu.Tests.Support;

/// <summary>
/// The tiny verifiable guest (scripts/build-test-guest.sh): a cloud kernel and a busybox initramfs
/// that counts, writes each value to its disk at sector (value mod 1024), then prints "counter N".
/// </summary>
internal static class TestGuest
{
    public const int RecordSectors = 1024;

    public static string? QemuBinary { get; } =
        new[] { "/usr/bin", "/usr/local/bin", "/bin" }.Select(d => Path.Combine(d, "qemu-system-x86_64")).FirstOrDefault(File.Exists);

    /// <summary>Builds the guest (once; the script does nothing when it is up to date) and returns its directory.</summary>
    public static async Task<string> BuildAsync()
    {
        string output = Path.Combine(Path.GetTempPath(), "replicator-test-guest");
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(RepositoryRoot(), "scripts", "build-test-guest.sh"));
        start.ArgumentList.Add(output);
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(bound.Token);
        Assert.True(process.ExitCode == 0, $"scripts/build-test-guest.sh failed ({process.ExitCode}): {await stdout}{await stderr}");
        return output;
    }

    /// <summary>A configuration for the guest with its disk at <paramref name="disk"/>, sockets in <paramref name="dir"/>.</summary>
    public static VmConfig Config(string guest, string dir, string disk, string ramFile, int memoryMiB = 128) => VmConfigFile.Parse(
        $$"""
        {
          "memoryMiB": {{memoryMiB}},
          "accelerator": "tcg",
          "boot": {
            "kernel": "{{Path.Combine(guest, "vmlinuz")}}",
            "initrd": "{{Path.Combine(guest, "initramfs.cpio.gz")}}",
            "commandLine": "console=ttyS0 quiet panic=-1"
          },
          "disk": { "file": "{{disk}}", "format": "raw", "cache": "none" },
          "qmpSocket": "{{Path.Combine(dir, "qmp")}}",
          "ramFile": "{{ramFile}}",
          "extraArguments": ["-no-reboot"],
          "commandTimeoutMs": 30000
        }
        """,
        dir);

    /// <summary>The value of a "counter N" line, or null for any other line.</summary>
    public static long? Counter(string line)
    {
        int at = line.LastIndexOf("counter ", StringComparison.Ordinal);
        return at >= 0 && long.TryParse(line.AsSpan(at + 8).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long value) ? value : null;
    }

    /// <summary>The highest sequence number recorded on a disk image of the guest (0 if none).</summary>
    public static long HighestRecord(string disk)
    {
        byte[] image = File.ReadAllBytes(disk);
        long highest = 0;
        for (int sector = 0; sector < RecordSectors && (sector + 1) * 512 <= image.Length; sector++)
        {
            string text = Encoding.ASCII.GetString(image, sector * 512, 17);
            if (text.StartsWith("seq ", StringComparison.Ordinal) && long.TryParse(text.AsSpan(4, 12), NumberStyles.None, CultureInfo.InvariantCulture, out long seq))
            {
                Assert.True(seq % RecordSectors == sector, $"record {seq} found at sector {sector}");
                highest = Math.Max(highest, seq);
            }
        }

        return highest;
    }

    private static string RepositoryRoot()
    {
        for (string? d = AppContext.BaseDirectory; d is not null; d = Path.GetDirectoryName(d))
        {
            if (File.Exists(Path.Combine(d, "scripts", "build-test-guest.sh")))
            {
                return d;
            }
        }

        throw new InvalidOperationException("scripts/build-test-guest.sh not found above " + AppContext.BaseDirectory);
    }
}
