namespace Replicator.Qemu.Config;

/// <summary>Direct kernel boot: QEMU loads the kernel (and initrd) itself, with this command line.</summary>
public sealed record KernelBoot(string Kernel, string? Initrd, string CommandLine);
