namespace Replicator.Qemu.Config;

/// <summary>How QEMU runs the guest's code: TCG (emulation, works everywhere) or KVM (needs a usable /dev/kvm).</summary>
public enum Accelerator
{
    Tcg,
    Kvm,
}
