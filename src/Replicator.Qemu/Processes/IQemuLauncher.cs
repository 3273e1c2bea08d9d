using Replicator.Qemu.Config;

namespace Replicator.Qemu.Processes;

/// <summary>Starts QEMU for a configuration and returns it once its QMP session is negotiated.</summary>
public interface IQemuLauncher
{
    Task<IQemuInstance> LaunchAsync(VmConfig config, LaunchMode mode, CancellationToken cancellationToken = default);
}
