namespace Replicator.Qemu.Guests;

/// <summary>A built counting guest: the kernel and the initramfs to boot it with, and the kernel's version.</summary>
public sealed record CountingGuestFiles(string Kernel, string Initrd, string KernelVersion);
