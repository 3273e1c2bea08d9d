namespace Replicator.Nbd.Server;

/// <summary>The client broke a rule the connection cannot survive; the message is the logged reason for closing it.</summary>
internal sealed class NbdProtocolViolationException : Exception
{
    public NbdProtocolViolationException()
    {
    }

    public NbdProtocolViolationException(string message)
        : base(message)
    {
    }

    public NbdProtocolViolationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
