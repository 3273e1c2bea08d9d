namespace Replicator.Nbd.Protocol;

/// <summary>The error values a reply may carry (the protocol fixes them; they are not the host's errno).</summary>
public enum NbdError : uint
{
    None = 0,

    /// <summary>A change to a read-only export.</summary>
    NotPermitted = 1,

    /// <summary>The backend failed the request.</summary>
    IoError = 5,

    NoMemory = 12,

    /// <summary>A malformed request: unknown command or flag, misaligned, out of range, too long.</summary>
    Invalid = 22,

    /// <summary>A write or write-zeroes past the end of the export.</summary>
    NoSpace = 28,

    Overflow = 75,

    NotSupported = 95,

    /// <summary>The server is shutting down.</summary>
    Shutdown = 108,
}
