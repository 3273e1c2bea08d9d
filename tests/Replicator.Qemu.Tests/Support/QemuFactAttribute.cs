using Replicator.Qemu.Guests;

namespace Replicator.Qemu.Tests.Support;

/// <summary>
/// A test that runs the real QEMU. Skipped, with the reason, only where QEMU cannot run at all (no
/// qemu-system-x86_64 on an x86-64 host: scripts/install-test-deps.sh, which the test command
/// runs, installs it); anything else that goes wrong fails the test.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class QemuFactAttribute : FactAttribute
{
    public QemuFactAttribute()
    {
        if (System.Runtime.InteropServices.RuntimeInformation.OSArchitecture != System.Runtime.InteropServices.Architecture.X64)
        {
            Skip = "QEMU cannot run the test guest here: it is built from the amd64 cloud kernel";
        }
        else if (CountingGuest.QemuBinary is null)
        {
            Skip = "QEMU cannot run here: qemu-system-x86_64 is not installed (scripts/install-test-deps.sh installs qemu-system-x86)";
        }
    }
}
