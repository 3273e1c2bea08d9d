namespace Replicator.Runtime.Links;

/// <summary>A connection whose peer did not prove the pair key (or not in time): closed, never read.</summary>
public sealed class LinkAuthenticationException : Exception
{
    public LinkAuthenticationException()
    {
    }

    public LinkAuthenticationException(string message)
        : base(message)
    {
    }

    public LinkAuthenticationException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
