namespace Replicator.Qemu.Qmp;

/// <summary>The error classes QEMU's QMP reports (qapi/error.json); anything else is <see cref="Unknown"/>.</summary>
public enum QmpErrorClass
{
    Unknown,
    GenericError,
    CommandNotFound,
    DeviceNotActive,
    DeviceNotFound,
    KVMMissingCap,
}
