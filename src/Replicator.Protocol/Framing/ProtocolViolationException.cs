namespace Replicator.Protocol.Framing;

/// <summary>
/// The peer sent something this side will not accept. The link is closed with <see cref="Exception.Message"/>
/// as the logged reason, and nothing from the offending frame is used.
/// </summary>
public sealed class ProtocolViolationException : Exception
{
    public ProtocolViolationException()
    {
    }

    public ProtocolViolationException(string message)
        : base(message)
    {
    }

    public ProtocolViolationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
