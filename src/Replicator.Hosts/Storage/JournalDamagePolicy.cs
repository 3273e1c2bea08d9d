namespace Replicator.Hosts.Storage;

/// <summary>What opening the journal does when it meets damage that is not a torn append.</summary>
public enum JournalDamagePolicy
{
    /// <summary>Refuse to open (an <see cref="InvalidDataException"/> naming the file and the entry), changing nothing: a secondary that goes on following its primary.</summary>
    Refuse,

    /// <summary>
    /// Read the entries before the damage and change nothing in the file, ever: no truncation, no
    /// append, no compaction — the file stays as evidence. For a node that promotes (or was
    /// promoted) and will never journal again.
    /// </summary>
    KeepAsEvidence,
}
