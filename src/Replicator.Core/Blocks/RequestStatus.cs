namespace Replicator.Core.Blocks;

/// <summary>How a guest request ended, as the guest sees it.</summary>
public enum RequestStatus
{
    Ok,

    /// <summary>The primary's own disk failed the request.</summary>
    IoError,

    /// <summary>The request was malformed (range, alignment, size) and was not performed.</summary>
    Invalid,
}
