using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Replicator.Qemu.Guests;

/// <summary>
/// The tiny verifiable guest the tests and <c>replicator demo --vm</c> boot: it counts in memory,
/// writes each value as <c>seq NNNNNNNNNNNN</c> to its disk at sector (value mod
/// <see cref="RecordSectors"/>), synchronously, and only then prints <c>counter N</c> on its serial
/// console. After a restore the counter can only come from the RAM image, and the disk holds
/// every value printed: disk, memory and console can be checked against each other.
/// </summary>
public static class CountingGuest
{
    public const int MemoryMiB = 128;

    /// <summary>The guest writes value N at sector (N mod 1024): its records fill the first 512 KiB of the disk.</summary>
    public const int RecordSectors = 1024;

    /// <summary>On the kernel command line: a second loop also writes 8 MiB at a time from 1 MiB on, O_DIRECT, without pause (the disk must be 9 MiB or more).</summary>
    public const string HeavyWritesOption = "replicator.heavy_writes=1";

    /// <summary>Why the counting guest cannot run under QEMU here, or null when it can: the tests skip with it, the demo and bench say it.</summary>
    public static string? CannotRun =>
        System.Runtime.InteropServices.RuntimeInformation.OSArchitecture != System.Runtime.InteropServices.Architecture.X64
            ? "QEMU cannot run the counting guest here: it is built from the amd64 cloud kernel"
            : QemuBinary is null
                ? "QEMU cannot run here: qemu-system-x86_64 is not installed (scripts/install-test-deps.sh installs qemu-system-x86, linux-image-cloud-amd64 and busybox-static)"
                : null;

    /// <summary>The installed qemu-system-x86_64, or null.</summary>
    public static string? QemuBinary { get; } =
        new[] { "/usr/bin", "/usr/local/bin", "/bin" }.Select(d => Path.Combine(d, "qemu-system-x86_64")).FirstOrDefault(File.Exists);

    /// <summary>
    /// The guest's VM configuration (docs/vm.md's format) as JSON: sockets in
    /// <paramref name="socketDirectory"/> named after <paramref name="name"/>, the RAM at
    /// <paramref name="ramFile"/> (tmpfs), the disk at <paramref name="disk"/> — or none, for the
    /// daemons, which put the guest's disk on their own export.
    /// </summary>
    public static string Config(CountingGuestFiles guest, string socketDirectory, string name, string ramFile, string? disk = null, bool heavyWrites = false)
    {
        ArgumentNullException.ThrowIfNull(guest);
        var config = new JsonObject
        {
            ["memoryMiB"] = MemoryMiB,
            ["accelerator"] = "tcg",
            ["boot"] = new JsonObject
            {
                ["kernel"] = guest.Kernel,
                ["initrd"] = guest.Initrd,
                ["commandLine"] = "console=ttyS0 quiet panic=-1" + (heavyWrites ? " " + HeavyWritesOption : ""),
            },
            ["qmpSocket"] = Path.Combine(socketDirectory, name + ".qmp"),
            ["ramFile"] = ramFile,
            ["extraArguments"] = new JsonArray("-no-reboot"),
            ["commandTimeoutMs"] = 30000,
        };
        if (disk is not null)
        {
            config["disk"] = new JsonObject { ["file"] = disk, ["format"] = "raw", ["cache"] = "none" };
        }

        return config.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>The value of a <c>counter N</c> line (a restored guest's line may follow a partial one), or null for any other line.</summary>
    public static long? Counter(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        int at = line.LastIndexOf("counter ", StringComparison.Ordinal);
        return at >= 0 && long.TryParse(line.AsSpan(at + 8).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long value) ? value : null;
    }

    /// <summary>The counter values a console log holds, in order; empty when there is no log yet.</summary>
    public static IReadOnlyList<long> Counters(string consoleLog) =>
        Lines(consoleLog).Select(Counter).OfType<long>().ToList();

    /// <summary>The number of the last heavy-write pass a console log reports done (0 before the first).</summary>
    public static long HeavyPasses(string consoleLog) =>
        Lines(consoleLog).Select(HeavyPass).OfType<long>().LastOrDefault();

    /// <summary>The lines in which the guest reports a write that failed (a counter's record or a heavy pass).</summary>
    public static IReadOnlyList<string> FailedWrites(string consoleLog) =>
        Lines(consoleLog).Where(line => line.EndsWith(" failed", StringComparison.Ordinal)).ToList();

    /// <summary>The pass of a <c>heavy pass P</c> line (a restored guest's line may follow a partial one), or null.</summary>
    private static long? HeavyPass(string line)
    {
        int at = line.LastIndexOf("heavy pass ", StringComparison.Ordinal);
        return at >= 0 && long.TryParse(line.AsSpan(at + 11).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long pass) ? pass : null;
    }

    /// <summary>A console log's lines; none when there is no log yet. Read while the daemon appends to it.</summary>
    private static List<string> Lines(string consoleLog)
    {
        var lines = new List<string>();
        if (!File.Exists(consoleLog))
        {
            return lines;
        }

        using var stream = new FileStream(consoleLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line)
        {
            lines.Add(line);
        }

        return lines;
    }

    /// <summary>The record at each sector of a disk image that holds one: sector → value.</summary>
    public static Dictionary<int, long> Records(ReadOnlySpan<byte> image)
    {
        var records = new Dictionary<int, long>();
        for (int sector = 0; sector < RecordSectors && (sector + 1) * 512 <= image.Length; sector++)
        {
            ReadOnlySpan<byte> text = image.Slice(sector * 512, 16);
            if (text.StartsWith("seq "u8) && long.TryParse(Encoding.ASCII.GetString(text[4..]), NumberStyles.None, CultureInfo.InvariantCulture, out long seq))
            {
                records[sector] = seq;
            }
        }

        return records;
    }
}
