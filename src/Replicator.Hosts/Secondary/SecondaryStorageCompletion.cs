namespace Replicator.Hosts.Secondary;

/// <summary>How a storage operation ended, handed back to the host by the shell.</summary>
public readonly record struct SecondaryStorageCompletion(
    SecondaryStorageKind Kind,
    long Epoch,
    SecondaryStorageResult Result,
    string? Reason = null,
    EpochStamps Stamps = default,
    Protocol.Messages.VerifyResultMessage? Verified = null);

/// <summary>The outcome of one storage operation.</summary>
public enum SecondaryStorageResult
{
    /// <summary>Done; for a persist, the epoch is durable in the journal (committed).</summary>
    Done,

    /// <summary>
    /// Not run: an earlier append failed, and nothing may land in the journal after a gap; or an
    /// earlier apply failed, and nothing more is applied.
    /// </summary>
    Skipped,

    /// <summary>The journal append failed: the epoch is not committed (the engine refuses it).</summary>
    PersistFailed,

    /// <summary>The image or RAM image failed under a committed epoch: this node cannot go on applying.</summary>
    StorageFailed,
}
