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
    public QemuFactAttribute() => Skip = CountingGuest.CannotRun;
}
