namespace Replicator.Runtime.Links;

/// <summary>A pair key that cannot be used; the message names the file and what to do.</summary>
public sealed class LinkKeyException : Exception
{
    public LinkKeyException()
    {
    }

    public LinkKeyException(string message)
        : base(message)
    {
    }

    public LinkKeyException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
