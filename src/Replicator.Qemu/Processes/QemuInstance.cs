using Replicator.Qemu.Qmp;

namespace Replicator.Qemu.Processes;

/// <summary>A QEMU process started by <see cref="QemuLauncher"/>, with its negotiated QMP session.</summary>
internal sealed class QemuInstance(System.Diagnostics.Process process, QmpClient qmp, QemuConsole console, Task exited, StandardErrorTail errors) : IQemuInstance
{
    public IQmpClient Qmp => qmp;

    public QemuConsole Console => console;

    public Task Exited => exited;

    public int ProcessId { get; } = process.Id;

    /// <summary>QEMU's last words on its standard error, for reports.</summary>
    public string StandardError => errors.Text();

    public void Kill() => QemuLauncher.KillQuietly(process);

    public async ValueTask DisposeAsync()
    {
        await qmp.DisposeAsync().ConfigureAwait(false);
        Kill();
        await exited.ConfigureAwait(false);
        process.Dispose();
    }
}
