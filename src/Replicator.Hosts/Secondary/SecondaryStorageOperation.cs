using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Vm;

namespace Replicator.Hosts.Secondary;

/// <summary>
/// One storage action of the secondary, asked for by its host and run by the shell, in order, on
/// the operation's <see cref="Lane"/>; the shell hands its completion back to the host.
/// </summary>
public readonly record struct SecondaryStorageOperation(
    SecondaryStorageKind Kind,
    MirrorRecord Record = default,
    EpochLog? Epoch = null,
    VmSnapshot? Snapshot = null,
    long Number = 0,
    long LastSequence = 0,
    Protocol.Generations.DataGenerations? Generations = null,
    Protocol.Generations.GenerationMark? Proposal = null,
    ulong RecordHash = 0)
{
    /// <summary>
    /// Journal appends (the commit point, on the acknowledgement's path) run apart from applying
    /// earlier epochs to the image, so a slow apply never delays a commit. The records of a
    /// failover run there too — the vote asked for, the promotion — so that neither waits behind a
    /// write-back batch (the store orders state-record writes of the two lanes): once a takeover
    /// is settled no epoch is being journalled, and the epochs it serves from RAM drain meanwhile.
    /// </summary>
    public SecondaryStorageLane Lane => Kind is SecondaryStorageKind.Persist or SecondaryStorageKind.StageRecord or SecondaryStorageKind.MarkPromoted or SecondaryStorageKind.RecordProposedPromotion
        ? SecondaryStorageLane.Journal
        : SecondaryStorageLane.Apply;

    /// <summary>The epoch the operation belongs to.</summary>
    public long EpochNumber => Kind switch
    {
        SecondaryStorageKind.Persist => Epoch!.Epoch,
        SecondaryStorageKind.WriteImage or SecondaryStorageKind.StageRecord => Record.Epoch,
        SecondaryStorageKind.ApplyVm => Snapshot!.Epoch,
        _ => Number,
    };
}

/// <summary>What a storage operation does.</summary>
public enum SecondaryStorageKind
{
    /// <summary>Append a sealed epoch to the journal and make it durable: the commit point.</summary>
    Persist,

    /// <summary>
    /// Write a record of the epoch that commits next into the journal ahead of its commit, for the
    /// epoch log's incarnation <see cref="SecondaryStorageOperation.Number"/>, with its
    /// <see cref="SecondaryStorageOperation.RecordHash"/> for the entry's checksum; nothing is flushed
    /// and nothing counts until <see cref="Persist"/> (<see cref="Storage.EpochJournal.Stage"/>).
    /// </summary>
    StageRecord,

    /// <summary>Write one committed record into the image.</summary>
    WriteImage,

    /// <summary>Make the image's writes so far durable (a barrier the primary recorded).</summary>
    FlushImage,

    /// <summary>Write a committed checkpoint's RAM pages into the RAM image.</summary>
    ApplyVm,

    /// <summary>Record durably that image and RAM hold the epoch, and release its journal space.</summary>
    MarkApplied,

    /// <summary>Record durably which data generations a sync from epoch <see cref="SecondaryStorageOperation.Number"/> on brings (<see cref="Storage.SecondaryStore.RecordSyncTarget"/>).</summary>
    RecordSyncTarget,

    /// <summary>Record durably that the image holds the operation's generations as it is (<see cref="Storage.SecondaryStore.TakeGenerations"/>).</summary>
    TakeGenerations,

    /// <summary>Record durably the generation a vote is asked for, or none (<see cref="Storage.SecondaryStore.RecordProposedPromotion"/>).</summary>
    RecordProposedPromotion,

    /// <summary>
    /// Record durably that the node took over at checkpoint <see cref="SecondaryStorageOperation.Number"/>,
    /// into the generation <see cref="SecondaryStorageOperation.Proposal"/> a witness voted for, or a new one (<see cref="Storage.SecondaryStore.MarkPromoted"/>).
    /// </summary>
    MarkPromoted,
}

/// <summary>The two ordered lanes of storage work: each runs its operations one at a time, in order.</summary>
public enum SecondaryStorageLane
{
    Journal,
    Apply,
}
