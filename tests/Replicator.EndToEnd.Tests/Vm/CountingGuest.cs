using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Replicator.EndToEnd.Tests.Vm;

/// <summary>
/// The counting test guest (scripts/build-test-guest.sh) as the daemons run it: its VM
/// configuration, the "counter N" lines of a node's console log, and the records on its disk.
/// </summary>
internal static class CountingGuest
{
    public const int MemoryMiB = 128;

    /// <summary>The guest writes value N at sector (N mod 1024).</summary>
    public const int RecordSectors = 1024;

    public static string? QemuBinary { get; } =
        new[] { "/usr/bin", "/usr/local/bin", "/bin" }.Select(d => Path.Combine(d, "qemu-system-x86_64")).FirstOrDefault(File.Exists);

    /// <summary>Builds the guest (the script does nothing when it is up to date) and returns its directory.</summary>
    public static async Task<string> BuildAsync()
    {
        string output = Path.Combine(Path.GetTempPath(), "replicator-test-guest");
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(RepositoryRoot(), "scripts", "build-test-guest.sh"));
        start.ArgumentList.Add(output);
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
        Assert.True(process.ExitCode == 0, $"scripts/build-test-guest.sh failed ({process.ExitCode}): {await stdout}{await stderr}");
        return output;
    }

    /// <summary>
    /// Writes a node's VM configuration: sockets in <paramref name="directory"/>, RAM on /dev/shm
    /// at <paramref name="ramFile"/> (the guest's whole RAM in tmpfs: the test deletes it).
    /// </summary>
    public static string WriteConfig(string guest, string directory, string name, out string ramFile)
    {
        string path = Path.Combine(directory, $"{name}-vm.json");
        string ram = $"/dev/shm/replicator-e2e-{name}-{Guid.NewGuid():N}.ram";
        ramFile = ram;
        File.WriteAllText(path, $$"""
            {
              "memoryMiB": {{MemoryMiB}},
              "accelerator": "tcg",
              "boot": {
                "kernel": "{{Path.Combine(guest, "vmlinuz")}}",
                "initrd": "{{Path.Combine(guest, "initramfs.cpio.gz")}}",
                "commandLine": "console=ttyS0 quiet panic=-1"
              },
              "qmpSocket": "{{Path.Combine(directory, name + ".qmp")}}",
              "ramFile": "{{ram}}",
              "extraArguments": ["-no-reboot"],
              "commandTimeoutMs": 30000
            }
            """);
        return path;
    }

    /// <summary>The counter values a console log holds, in order (lines cut by a kill, or a restored guest's partial line, are skipped).</summary>
    public static IReadOnlyList<long> Counters(string consoleLog)
    {
        if (!File.Exists(consoleLog))
        {
            return [];
        }

        using var stream = new FileStream(consoleLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var values = new List<long>();
        while (reader.ReadLine() is { } line)
        {
            if (line.StartsWith("counter ", StringComparison.Ordinal) && long.TryParse(line.AsSpan(8).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long value))
            {
                values.Add(value);
            }
        }

        return values;
    }

    /// <summary>The record at each sector of a disk image that holds one: sector → value.</summary>
    public static Dictionary<int, long> Records(byte[] image)
    {
        var records = new Dictionary<int, long>();
        for (int sector = 0; sector < RecordSectors && (sector + 1) * 512 <= image.Length; sector++)
        {
            string text = Encoding.ASCII.GetString(image, sector * 512, 16);
            if (text.StartsWith("seq ", StringComparison.Ordinal) && long.TryParse(text.AsSpan(4, 12), NumberStyles.None, CultureInfo.InvariantCulture, out long seq))
            {
                records[sector] = seq;
            }
        }

        return records;
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
