using Replicator.Qemu.Qmp;

namespace Replicator.Qemu.Processes;

/// <summary>One running QEMU: its QMP session, its serial console, and its end.</summary>
public interface IQemuInstance : IAsyncDisposable
{
    IQmpClient Qmp { get; }

    QemuConsole Console { get; }

    /// <summary>Completes when the QEMU process has exited.</summary>
    Task Exited { get; }

    int ProcessId { get; }

    /// <summary>Kills QEMU at once (SIGKILL): what a host failure does, and the fence of last resort.</summary>
    void Kill();
}
