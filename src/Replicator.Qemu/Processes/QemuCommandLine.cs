using System.Globalization;
using Replicator.Qemu.Config;

namespace Replicator.Qemu.Processes;

/// <summary>
/// QEMU's arguments for a configuration. The parts a checkpoint depends on are fixed here: the
/// guest's RAM is a named memory backend on the shared RAM file (so it can be diffed in place and
/// left out of the migration stream with x-ignore-shared), QMP is a socket QEMU connects to (so the
/// adapter knows the moment QEMU is up, without polling for a socket file), and the serial console
/// is QEMU's standard output.
/// </summary>
public static class QemuCommandLine
{
    /// <summary>
    /// The memory backend's id. The RAM block is named after it, and a migration stream matches
    /// RAM blocks by name: the QEMU that restores must use the same id as the one that was captured.
    /// </summary>
    public const string RamBackendId = "replicator-ram";

    public static IReadOnlyList<string> Build(VmConfig config, LaunchMode mode)
    {
        ArgumentNullException.ThrowIfNull(config);
        string mib = config.MemoryMiB.ToString(CultureInfo.InvariantCulture);
        List<string> args =
        [
            "-nodefaults",
            "-no-user-config",
            "-display", "none",
            "-serial", "stdio",
            "-accel", config.Accelerator == Accelerator.Kvm ? "kvm" : "tcg",
            "-machine", $"{config.Machine},memory-backend={RamBackendId}",
            "-m", $"{mib}M",
            "-object", $"memory-backend-file,id={RamBackendId},share=on,mem-path={config.RamFile},size={mib}M",
            "-chardev", $"socket,id=replicator-qmp,path={config.QmpSocket}",
            "-mon", "chardev=replicator-qmp,mode=control",
        ];

        if (config.Boot is { } boot)
        {
            args.AddRange(["-kernel", boot.Kernel]);
            if (boot.Initrd is not null)
            {
                args.AddRange(["-initrd", boot.Initrd]);
            }

            args.AddRange(["-append", boot.CommandLine]);
        }

        if (config.Disk is { } disk)
        {
            string format = disk.Format == DiskFormat.Qcow2 ? "qcow2" : "raw";
            string cache = disk.Cache.ToString().ToLowerInvariant();
            args.AddRange(["-drive", $"file={disk.File},format={format},if=virtio,cache={cache}"]);
        }

        if (mode == LaunchMode.Incoming)
        {
            args.AddRange(["-S", "-incoming", "defer"]);
        }

        args.AddRange(config.ExtraArguments);
        return args;
    }
}
