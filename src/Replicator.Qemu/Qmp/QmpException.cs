namespace Replicator.Qemu.Qmp;

/// <summary>Anything that went wrong talking to QEMU over QMP; the subclasses say what.</summary>
public abstract class QmpException : Exception
{
    protected QmpException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}

/// <summary>QEMU answered the command with an error.</summary>
public sealed class QmpCommandException(string command, QmpErrorClass errorClass, string description)
    : QmpException($"QEMU refused {command}: {errorClass}: {description}")
{
    public string Command { get; } = command;

    public QmpErrorClass ErrorClass { get; } = errorClass;

    public string Description { get; } = description;
}

/// <summary>
/// The QMP connection is gone (QEMU exited, was killed, or closed the socket): every command in
/// flight and every later one fails with this instead of waiting for an answer that cannot come.
/// </summary>
public sealed class QmpConnectionClosedException(string message, Exception? inner = null) : QmpException(message, inner);

/// <summary>QEMU did not answer a command, or did not send an awaited event, within its time limit.</summary>
public sealed class QmpTimeoutException(string what, TimeSpan timeout)
    : QmpException($"QEMU did not answer {what} within {timeout.TotalMilliseconds:0} ms")
{
    public TimeSpan Timeout { get; } = timeout;
}

/// <summary>QEMU sent something that is not QMP (bad JSON, a reply with an unknown id, no greeting).</summary>
public sealed class QmpProtocolException(string message, Exception? inner = null) : QmpException(message, inner);
