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

    public HandshakeRefusedException(string message, bool fenced)
        : base(message) => Fenced = fenced;

    /// <summary>The secondary was promoted or its generation moved on: never try it again (I6).</summary>
    public bool Fenced { get; }
}
