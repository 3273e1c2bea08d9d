namespace Replicator.Qemu.Processes;

/// <summary>QEMU could not be started, or exited (or never connected to QMP) before it was ready.</summary>
public sealed class QemuStartException(string message, Exception? inner = null) : Exception(message, inner);
