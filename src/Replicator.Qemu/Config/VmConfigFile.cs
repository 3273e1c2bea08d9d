using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Replicator.Qemu.Config;

/// <summary>
/// Reads and validates the VM configuration file (JSON). Unknown fields, wrong types and values
/// out of range are refused with a <see cref="VmConfigException"/> naming the field, so a typo
/// never silently falls back to a default.
/// </summary>
public static class VmConfigFile
{
    public const int MinMemoryMiB = 16;

    /// <summary>The secondary keeps a checkpoint's RAM in one array (<c>VmState</c>), so under 2 GiB.</summary>
    public const int MaxMemoryMiB = 2047;

    // sun_path holds 108 bytes with the terminating NUL.
    private const int MaxSocketPathBytes = 107;

    // Options the adapter sets itself: passing them again would fight its own (two -m, two QMP
    // monitors, a second -incoming) or break the shared-RAM checkpoint.
    private static readonly string[] ReservedOptions =
        ["-m", "-machine", "-M", "-accel", "-enable-kvm", "-qmp", "-mon", "-monitor", "-serial", "-incoming", "-S", "-kernel", "-initrd", "-append", "-daemonize", "-mem-path", "-mem-prealloc"];

    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false) },
    };

    public static VmConfig Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new VmConfigException("(file)", $"cannot read {path}: {e.Message}", e);
        }

        return Parse(text, Path.GetDirectoryName(Path.GetFullPath(path)) ?? "/");
    }

    /// <summary>Parses and validates; relative paths in the file are taken from <paramref name="baseDirectory"/>.</summary>
    public static VmConfig Parse(string json, string baseDirectory)
    {
        Dto? dto;
        try
        {
            dto = JsonSerializer.Deserialize<Dto>(json, Options);
        }
        catch (JsonException e)
        {
            string field = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "(file)" : e.Path.TrimStart('$', '.');
            throw new VmConfigException(field, $"not valid here: {FirstLine(e.Message)}", e);
        }

        if (dto is null)
        {
            throw new VmConfigException("(file)", "the file holds null, not a configuration object");
        }

        return Validate(dto, baseDirectory);
    }

    private static VmConfig Validate(Dto dto, string baseDirectory)
    {
        int memory = dto.MemoryMiB ?? throw new VmConfigException("memoryMiB", "missing: the guest's RAM in MiB");
        if (memory is < MinMemoryMiB or > MaxMemoryMiB)
        {
            throw new VmConfigException("memoryMiB", $"{memory} is out of range: {MinMemoryMiB} to {MaxMemoryMiB} MiB");
        }

        KernelBoot? boot = null;
        if (dto.Boot is { } b)
        {
            string kernel = ExistingFile("boot.kernel", b.Kernel ?? throw new VmConfigException("boot.kernel", "missing: the kernel image to boot"), baseDirectory);
            string? initrd = b.Initrd is null ? null : ExistingFile("boot.initrd", b.Initrd, baseDirectory);
            boot = new KernelBoot(kernel, initrd, b.CommandLine ?? "");
        }

        DiskConfig? disk = null;
        if (dto.Disk is { } d)
        {
            string file = d.File ?? throw new VmConfigException("disk.file", "missing: an image path or an nbd:// URI");
            var candidate = new DiskConfig(file, d.Format ?? DiskFormat.Raw, d.Cache ?? DiskCache.None);
            disk = candidate.IsNbd ? candidate : candidate with { File = ExistingFile("disk.file", file, baseDirectory) };
            NoComma("disk.file", disk.File);
        }

        if (boot is null && disk is null)
        {
            throw new VmConfigException("boot", "neither boot nor disk is given: there is nothing to boot from");
        }

        string qmp = SocketPath("qmpSocket", dto.QmpSocket, baseDirectory);
        string migration = SocketPath("migrationSocket", dto.MigrationSocket ?? qmp + ".migrate", baseDirectory);
        string ram = NewFilePath("ramFile", dto.RamFile ?? throw new VmConfigException("ramFile", "missing: the file holding the guest's RAM (on tmpfs, e.g. /dev/shm/NAME)"), baseDirectory);
        if (ram == qmp || ram == migration || qmp == migration)
        {
            throw new VmConfigException("ramFile", "ramFile, qmpSocket and migrationSocket must be three different paths");
        }

        string machine = dto.Machine ?? "pc";
        if (machine.Length == 0 || !machine.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_'))
        {
            throw new VmConfigException("machine", $"'{machine}' is not a machine type name (letters, digits, '-', '.', '_')");
        }

        List<string> extra = [];
        for (int i = 0; i < (dto.ExtraArguments?.Length ?? 0); i++)
        {
            string? argument = dto.ExtraArguments![i];
            if (string.IsNullOrEmpty(argument))
            {
                throw new VmConfigException($"extraArguments[{i}]", "empty argument");
            }

            string option = argument.StartsWith("--", StringComparison.Ordinal) ? argument[1..] : argument;
            if (ReservedOptions.Contains(option, StringComparer.Ordinal))
            {
                throw new VmConfigException($"extraArguments[{i}]", $"{argument} is set by the adapter (from memoryMiB, accelerator, machine, boot, qmpSocket or ramFile)");
            }

            extra.Add(argument);
        }

        int timeoutMs = dto.CommandTimeoutMs ?? 10_000;
        if (timeoutMs is < 100 or > 600_000)
        {
            throw new VmConfigException("commandTimeoutMs", $"{timeoutMs} is out of range: 100 to 600000 ms");
        }

        string binary = dto.QemuBinary ?? "qemu-system-x86_64";
        if (binary.Length == 0)
        {
            throw new VmConfigException("qemuBinary", "empty");
        }

        return new VmConfig
        {
            MemoryMiB = memory,
            Accelerator = dto.Accelerator ?? Accelerator.Tcg,
            Machine = machine,
            Boot = boot,
            Disk = disk,
            QmpSocket = qmp,
            MigrationSocket = migration,
            RamFile = ram,
            QemuBinary = binary,
            ExtraArguments = extra,
            CommandTimeout = TimeSpan.FromMilliseconds(timeoutMs),
        };
    }

    private static string ExistingFile(string field, string path, string baseDirectory)
    {
        string full = Full(field, path, baseDirectory);
        if (!File.Exists(full))
        {
            throw new VmConfigException(field, $"{full} does not exist");
        }

        return full;
    }

    private static string NewFilePath(string field, string path, string baseDirectory)
    {
        string full = Full(field, path, baseDirectory);
        NoComma(field, full);
        string? directory = Path.GetDirectoryName(full);
        if (directory is null || !Directory.Exists(directory))
        {
            throw new VmConfigException(field, $"the directory of {full} does not exist");
        }

        if (Directory.Exists(full))
        {
            throw new VmConfigException(field, $"{full} is a directory; give a file path");
        }

        return full;
    }

    private static string SocketPath(string field, string? path, string baseDirectory)
    {
        string full = NewFilePath(field, path ?? throw new VmConfigException(field, "missing: a Unix socket path"), baseDirectory);
        int bytes = Encoding.UTF8.GetByteCount(full);
        if (bytes > MaxSocketPathBytes)
        {
            throw new VmConfigException(field, $"{full} is {bytes} bytes long; a Unix socket path holds at most {MaxSocketPathBytes}");
        }

        return full;
    }

    private static string Full(string field, string path, string baseDirectory)
    {
        if (path.Length == 0)
        {
            throw new VmConfigException(field, "empty path");
        }

        return Path.GetFullPath(path, baseDirectory);
    }

    // QEMU's option syntax separates properties with commas; a comma in a path would need
    // doubling everywhere it is passed. Refusing it keeps the command line simple and exact.
    private static void NoComma(string field, string path)
    {
        if (path.Contains(',', StringComparison.Ordinal))
        {
            throw new VmConfigException(field, $"{path} contains a comma, which QEMU's option syntax would split on");
        }
    }

    private static string FirstLine(string message)
    {
        int end = message.IndexOf(". Path:", StringComparison.Ordinal);
        return end > 0 ? message[..end] : message;
    }

    // The file's shape: every field optional here so that a missing one is reported by name.
    private sealed class Dto
    {
        public int? MemoryMiB { get; set; }

        public Accelerator? Accelerator { get; set; }

        public string? Machine { get; set; }

        public BootDto? Boot { get; set; }

        public DiskDto? Disk { get; set; }

        public string? QmpSocket { get; set; }

        public string? MigrationSocket { get; set; }

        public string? RamFile { get; set; }

        public string? QemuBinary { get; set; }

        public string?[]? ExtraArguments { get; set; }

        public int? CommandTimeoutMs { get; set; }
    }

    private sealed class BootDto
    {
        public string? Kernel { get; set; }

        public string? Initrd { get; set; }

        public string? CommandLine { get; set; }
    }

    private sealed class DiskDto
    {
        public string? File { get; set; }

        public DiskFormat? Format { get; set; }

        public DiskCache? Cache { get; set; }
    }
}
