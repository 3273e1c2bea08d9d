using Replicator.Core.Storage;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Storage;

/// <summary>What <see cref="DataDemotion.Apply"/> found and did.</summary>
public enum DemotionOutcome
{
    /// <summary>The node was a writer by promotion: started as a secondary it now follows instead of resuming the promotion.</summary>
    Demoted,

    /// <summary>The node was the operator's primary: a secondary's start demotes it already; nothing changed.</summary>
    AlreadyDemotable,

    /// <summary>The node is a secondary: nothing to demote.</summary>
    Follows,
}

/// <summary>
/// <c>replicator demote</c>: a stopped node that took over by promotion, made to follow when it is
/// next started as a secondary — as a former primary, its writes since then named by its dirty log
/// and copied back over from the node it follows (or refused as a split brain if both wrote). Only
/// where the primary role came from changes; the data, the generations and the journal stay, and
/// nothing is deleted.
/// </summary>
public static class DataDemotion
{
    public static DemotionOutcome Apply(IStorageDirectory directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var states = new NodeStateStore(directory);
        NodeState state = states.Load() ?? throw new InvalidDataException($"{states.Path} does not exist: no node ran with this state directory, so there is nothing to demote");
        if (state.Role != NodeRole.Primary)
        {
            return DemotionOutcome.Follows;
        }

        if (!state.PrimaryByPromotion)
        {
            return DemotionOutcome.AlreadyDemotable;
        }

        var drains = new TakeoverDrainStore(directory);
        if (drains.Load() is { IsDrained: false } drain)
        {
            // Demoted now, its image would lack part of the checkpoint it took over — and the node it
            // follows would take it for holding that checkpoint whole, copying back only what changed since.
            throw new InvalidDataException($"{drains.Path}: this node took over at checkpoint {drain.Epoch}, but its image holds only {drain.AppliedEpoch}: start it once as `replicator secondary` (it writes back the rest from its journal), stop it, then demote it; nothing was changed");
        }

        states.Save(state with { PrimaryByPromotion = false });
        return DemotionOutcome.Demoted;
    }
}
