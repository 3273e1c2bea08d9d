namespace Replicator.Runtime.Primary;

/// <summary>The secondary refused the primary's hello (wrong pair, size, version or generation). The daemon exits with this message.</summary>
public sealed class HandshakeRefusedException : Exception
{
    public HandshakeRefusedException()
    {
    }

    public HandshakeRefusedException(string message)
        : base(message)
    {
    }

    public HandshakeRefusedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
