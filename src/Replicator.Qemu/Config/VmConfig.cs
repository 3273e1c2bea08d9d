namespace Replicator.Qemu.Config;

/// <summary>
/// A validated description of the QEMU guest to protect: its memory, how it boots, its disk,
/// where QEMU's QMP socket and RAM file live, and any further QEMU arguments. Built by
/// <see cref="VmConfigFile"/> from JSON; every instance has passed validation.
/// </summary>
public sealed record VmConfig
{
    /// <summary>The guest's RAM in MiB.</summary>
    public required int MemoryMiB { get; init; }

    public Accelerator Accelerator { get; init; } = Accelerator.Tcg;

    /// <summary>QEMU's machine type (<c>-machine</c>).</summary>
    public string Machine { get; init; } = "pc";

    /// <summary>Direct kernel boot; null boots from <see cref="Disk"/>.</summary>
    public KernelBoot? Boot { get; init; }

    public DiskConfig? Disk { get; init; }

    /// <summary>QMP's Unix socket: the adapter listens on it and QEMU connects.</summary>
    public required string QmpSocket { get; init; }

    /// <summary>The Unix socket the device state passes through during a checkpoint and a restore.</summary>
    public required string MigrationSocket { get; init; }

    /// <summary>The file holding the guest's RAM, shared between QEMU and the adapter (on tmpfs, e.g. /dev/shm).</summary>
    public required string RamFile { get; init; }

    public string QemuBinary { get; init; } = "qemu-system-x86_64";

    /// <summary>Further QEMU arguments, passed as given after the adapter's own.</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];

    /// <summary>How long any QMP command, or QEMU's start, may take before it counts as failed.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public long RamBytes => (long)MemoryMiB << 20;
}
