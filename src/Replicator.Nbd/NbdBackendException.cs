using Replicator.Nbd.Protocol;

namespace Replicator.Nbd;

/// <summary>Thrown by a backend to fail one request with a chosen NBD error (for example ENOSPC) rather than EIO.</summary>
public sealed class NbdBackendException : Exception
{
    public NbdBackendException()
        : this(NbdError.IoError, "the backend failed the request")
    {
    }

    public NbdBackendException(string message)
        : this(NbdError.IoError, message)
    {
    }

    public NbdBackendException(string message, Exception innerException)
        : base(message, innerException)
    {
        Error = NbdError.IoError;
    }

    public NbdBackendException(NbdError error, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        if (error == NbdError.None)
        {
            throw new ArgumentOutOfRangeException(nameof(error), error, "a failure needs a non-zero error");
        }

        Error = error;
    }

    /// <summary>The error value sent to the client.</summary>
    public NbdError Error { get; }
}
