namespace Replicator.Hosts.Secondary;

/// <summary>How a storage operation ended, handed back to the host by the shell.</summary>
public readonly record struct SecondaryStorageCompletion(
    SecondaryStorageKind Kind,
    long Epoch,
    SecondaryStorageResult Result,
    string? Reason = null,
    EpochStamps Stamps = default,
    Protocol.Messages.VerifyResultMessage? Verified = null)
{
    /// <summary>
    /// Whether the host acts on this completion (<see cref="SecondaryHost.OnStorageCompleted"/>):
    /// every failure, a verify's result, and the kinds it waits for — the commit, the state records.
    /// A record written into the journal ahead or into the image, a flush or RAM pages, done or
    /// skipped, change nothing the host keeps (what follows them in their lane reports for them), so
    /// a shell need not carry them back to the host's loop: the daemon does not, a hand-off saved
    /// per mirrored write.
    /// </summary>
    public bool MattersToHost => Result is not (SecondaryStorageResult.Done or SecondaryStorageResult.Skipped)
        || Verified is not null
        || (Result == SecondaryStorageResult.Done && Kind is not (SecondaryStorageKind.StageRecord or SecondaryStorageKind.WriteImage or SecondaryStorageKind.FlushImage or SecondaryStorageKind.ApplyVm));
}

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
