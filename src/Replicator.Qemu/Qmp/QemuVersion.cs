namespace Replicator.Qemu.Qmp;

/// <summary>QEMU's version from the QMP greeting, and the distributor's package string.</summary>
public sealed record QemuVersion(int Major, int Minor, int Micro, string Package)
{
    public override string ToString() => $"{Major}.{Minor}.{Micro}{(Package.Length > 0 ? $" ({Package})" : "")}";
}
