using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Storage;

/// <summary>
/// What a node keeps about itself across restarts: which pair it belongs to, the data generations
/// its image holds, its role, and the checkpoint its image and VM state hold (with that
/// checkpoint's vCPU state).
/// </summary>
public sealed record NodeState
{
    /// <summary>
    /// 4: where the primary role came from (<see cref="PrimaryByPromotion"/>), a former primary's
    /// demotion (<see cref="FormerPrimary"/>) and the checkpoint a promotion took over from.
    /// 3: data generations (a record of format 1 or 2 reads as holding none: a secondary is then
    /// synced whole, a primary begins the pair's data anew). 2: the file carries a checksum over the
    /// record (1: none; still read).
    /// </summary>
    public const int CurrentFormatVersion = 4;

    public int FormatVersion { get; init; } = CurrentFormatVersion;

    public required string PairId { get; init; }

    /// <summary>The data generations the image holds (none: a secondary that never held this pair's data).</summary>
    public DataGenerations Generations { get; init; } = DataGenerations.None;

    /// <summary>
    /// A secondary being synced: the primary's generations, which it takes when the epoch that
    /// completes the copy (at or after <see cref="SyncFirstEpoch"/>, not mid-resync) is applied —
    /// not before, since until then its image holds neither its old data nor the primary's.
    /// </summary>
    public DataGenerations? SyncTarget { get; init; }

    /// <summary>The sync's first epoch: epochs before it belong to the stream before the sync.</summary>
    public long SyncFirstEpoch { get; init; }

    public required NodeRole Role { get; init; }

    /// <summary>
    /// The primary role came from a promotion of this node as a secondary (failover, switchover):
    /// started again as a secondary, it comes back promoted. False for a node made primary by
    /// <c>replicator primary</c>: started as a secondary, it is demoted (<see cref="FormerPrimary"/>).
    /// </summary>
    public bool PrimaryByPromotion { get; init; }

    /// <summary>
    /// Set when this node took over: the checkpoint its image held and the data generation that
    /// checkpoint belongs to. Its first start as a primary counts every change from there (a new
    /// dirty log says so), so a former primary of that generation can be rolled back and synced
    /// by copying only what either side wrote since; cleared by that start.
    /// </summary>
    public TakeoverPoint? PromotedFrom { get; init; }

    /// <summary>
    /// A former primary started as a secondary: until a sync from its new primary completes, its
    /// image may hold writes no other node has — the regions its dirty log (<see cref="DirtyLogId"/>)
    /// names — and is no checkpoint (it is never promoted meanwhile).
    /// </summary>
    public bool FormerPrimary { get; init; }

    /// <summary>
    /// The generation this secondary asked the witness to vote its promotion into, recorded before
    /// it asked: the witness may have granted it (and recorded it) even if the answer never came
    /// back. Until the witness answers, the node follows no primary — after a restart too — so an
    /// old primary is never acknowledged on the strength of a node the witness voted away from it.
    /// Cleared by the promotion, or once a primary is followed again after a refusal.
    /// </summary>
    public GenerationMark? ProposedPromotion { get; init; }

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

    /// <summary>
    /// A primary's dirty log (<see cref="DirtyLogFile"/>) that may be trusted at the next start: the
    /// id it was created with. 0: none — a log that cannot be written any more is named no longer.
    /// </summary>
    public ulong DirtyLogId { get; init; }
}

/// <summary>The checkpoint a node took over from, and the data generation (its id) that checkpoint belongs to.</summary>
public sealed record TakeoverPoint(long Epoch, long Generation);
