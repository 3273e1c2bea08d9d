using Replicator.Core.Storage;
using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Storage;

/// <summary>What <see cref="DataDiscard.Apply"/> threw away: the generations the node held, its role, and where its journal went.</summary>
public sealed record DiscardReport(DataGenerations Discarded, NodeRole FormerRole, string? JournalKeptAs);

/// <summary>
/// The operator's answer to a split brain (<c>replicator discard-my-data</c>): the node, stopped,
/// gives up the data its image holds. Its state record becomes a blank secondary's — no data
/// generation, following — so the next primary it meets copies the whole image over it. Nothing is
/// deleted: the image keeps its bytes until the copy overwrites them, and the journal is renamed
/// aside, as evidence, not replayed.
/// </summary>
public static class DataDiscard
{
    public static DiscardReport Apply(IStorageDirectory directory, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var states = new NodeStateStore(directory);
        NodeState state = states.Load() ?? throw new InvalidDataException($"{states.Path} does not exist: no node ran with this state directory, so it holds no data to discard");

        // The record first: a crash before the journal is moved leaves a blank node whose journal
        // replays into an image the next sync overwrites whole. The other order could leave a node
        // claiming its generation while its journal (its acknowledged epochs) is gone.
        states.Save(state with
        {
            Generations = DataGenerations.None,
            SyncTarget = null,
            SyncFirstEpoch = 0,
            Role = NodeRole.Secondary,
            AppliedEpoch = Math.Max(0, state.AppliedEpoch),
            AppliedLastSequence = Math.Max(0, state.AppliedLastSequence),
            MidResync = false,
            FormerPrimary = false,
            PrimaryByPromotion = false,
            PromotedFrom = null,
            DirtyLogId = 0,
            JournalSalt = state.JournalSalt != 0 ? state.JournalSalt : SecondaryStore.NewJournalSalt(),
        });

        string? kept = null;
        foreach (string file in EpochJournal.FileNames)
        {
            if (directory.Exists(file))
            {
                string aside = $"{file}.discarded-{now.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}";
                directory.Replace(file, aside);
                directory.Sync();
                kept ??= aside;
            }
        }

        return new DiscardReport(state.Generations, state.Role, kept is null ? null : directory.Describe(kept));
    }
}
