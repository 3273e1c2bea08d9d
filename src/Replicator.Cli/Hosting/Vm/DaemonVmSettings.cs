using System.Net;
using Replicator.Nbd;
using Replicator.Qemu;
using Replicator.Qemu.Config;

namespace Replicator.Cli.Hosting.Vm;

/// <summary>
/// <c>--vm</c> and <c>--vm-config</c>, checked: the VM configuration a daemon runs QEMU from, or
/// none. The guest's disk is always the node's own export (the configuration's <c>disk.file</c> is
/// replaced by it), and its RAM must be the RAM the pair carries in snapshots (<c>--ram-kb</c>), or
/// the secondary's RAM image could not hold a checkpoint of it.
/// </summary>
internal static class DaemonVmSettings
{
    public const string None = "none";
    public const string Qemu = "qemu";

    /// <summary>The validated configuration, or null for <c>--vm none</c>; adds a one-line problem naming the option or field otherwise.</summary>
    public static VmConfig? Parse(NodeSettings settings, EndPoint? export, List<string> problems)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(problems);
        switch (settings.Vm)
        {
            case None:
                if (!string.IsNullOrWhiteSpace(settings.VmConfig))
                {
                    problems.Add("--vm-config is given but --vm is none: add --vm qemu, or drop --vm-config");
                }

                return null;
            case Qemu:
                break;
            default:
                problems.Add($"--vm '{settings.Vm}' must be {None} or {Qemu}");
                return null;
        }

        if (string.IsNullOrWhiteSpace(settings.VmConfig))
        {
            problems.Add("--vm qemu needs --vm-config FILE (the VM configuration, see docs/vm.md)");
            return null;
        }

        if (export is null)
        {
            problems.Add("--vm qemu needs --nbd: the guest's disk is the node's own export");
            return null;
        }

        VmConfig config;
        try
        {
            config = VmConfigFile.Load(settings.VmConfig);
        }
        catch (VmConfigException e)
        {
            problems.Add($"--vm-config {settings.VmConfig}: {e.Message}");
            return null;
        }

        long ramKb = config.RamBytes >> 10;
        if (ramKb != settings.RamKb)
        {
            problems.Add($"--ram-kb {settings.RamKb} does not match the VM configuration's memoryMiB {config.MemoryMiB} ({ramKb} KiB): the pair carries --ram-kb of RAM in 4096-byte pages; give --ram-kb {ramKb} to both nodes");
            return null;
        }

        if (config.Disk is { Format: DiskFormat.Qcow2 })
        {
            problems.Add($"--vm-config {settings.VmConfig}: disk.format qcow2 cannot be served: the guest's disk is the node's raw export (leave disk out, or give format raw)");
            return null;
        }

        if (ExportUri(export) is not { } uri)
        {
            problems.Add($"--nbd {NbdEndPoints.Describe(export)}: QEMU cannot take a path with a comma as its disk");
            return null;
        }

        return config with { Disk = new DiskConfig(uri, DiskFormat.Raw, config.Disk?.Cache ?? DiskCache.None) };
    }

    /// <summary>
    /// The export as QEMU's NBD client names it: the Unix socket, or TCP on the loopback when the
    /// export listens on every address (the guest's disk never leaves the host).
    /// </summary>
    public static string? ExportUri(EndPoint export)
    {
        ArgumentNullException.ThrowIfNull(export);
        switch (export)
        {
            case System.Net.Sockets.UnixDomainSocketEndPoint:
                string path = NbdEndPoints.Describe(export)[NbdEndPoints.UnixPrefix.Length..];
                return path.Contains(',', StringComparison.Ordinal) ? null : $"nbd+unix:///?socket={path}";
            case IPEndPoint ip:
                IPAddress address = ip.Address.Equals(IPAddress.Any) ? IPAddress.Loopback : ip.Address.Equals(IPAddress.IPv6Any) ? IPAddress.IPv6Loopback : ip.Address;
                string host = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
                return $"nbd://{host}:{ip.Port}/";
            default:
                return null;
        }
    }

    /// <summary>The guest's page size, which the pair's snapshots use too.</summary>
    public const int PageSize = QemuVirtualMachine.PageSize;
}
