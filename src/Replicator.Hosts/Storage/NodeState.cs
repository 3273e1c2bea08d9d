using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Storage;

/// <summary>
/// What a node keeps about itself across restarts: which pair and generation it belongs to, its
/// role, and the checkpoint its image and VM state hold (with that checkpoint's vCPU state).
/// </summary>
public sealed record NodeState
{
    /// <summary>2: the file carries a checksum over the record (1: none; still read).</summary>
    public const int CurrentFormatVersion = 2;

    public int FormatVersion { get; init; } = CurrentFormatVersion;

    public required string PairId { get; init; }

    public long Generation { get; init; }

    public required NodeRole Role { get; init; }

    /// <summary>The checkpoint the image and RAM image hold (0: the initial copy).</summary>
    public long AppliedEpoch { get; init; }

    public long AppliedLastSequence { get; init; }

    /// <summary>
    /// The applied epoch left the image mid-resync: some regions are newer than others, so the image
    /// is no checkpoint and the node must not be promoted until a later epoch completes the resync.
    /// </summary>
    public bool MidResync { get; init; }

    public byte[] CpuState { get; init; } = [];

    /// <summary>
    /// A random number this node's journal mixes into every entry's checksum, so that bytes which
    /// merely look like journal entries — another journal kept inside the guest's own disk, or ones
    /// a guest forged in its data — are never taken for this journal's entries. Chosen when the
    /// node's state is first created; never sent anywhere.
    /// </summary>
    public long JournalSalt { get; init; }
}
