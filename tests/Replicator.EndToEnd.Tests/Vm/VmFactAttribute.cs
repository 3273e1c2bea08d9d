using Replicator.Qemu.Guests;

namespace Replicator.EndToEnd.Tests.Vm;

/// <summary>
/// A test that runs the daemons with a real QEMU guest. Skipped, with the reason, only where QEMU
/// cannot run at all (not an x86-64 host, or no qemu-system-x86_64: scripts/install-test-deps.sh,
/// which the test command runs, installs it); anything else that goes wrong fails the test.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class VmFactAttribute : FactAttribute
{
    public VmFactAttribute() => Skip = CountingGuest.CannotRun;
}
