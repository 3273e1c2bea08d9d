using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Witness;

/// <summary>What the witness knows of one pair, for its status.</summary>
/// <param name="PairId">The pair.</param>
/// <param name="Generations">The writer's lineage as recorded.</param>
/// <param name="Holder">Who holds it: a leased primary or a promoted secondary.</param>
/// <param name="LeaseHeldFor">How much longer the witness holds the primary's lease (zero: none).</param>
/// <param name="PrimarySeenAgo">Since the primary last asked (null: never, since the witness started).</param>
/// <param name="SecondarySeenAgo">Since the secondary last asked (null: never, since the witness started).</param>
/// <param name="Promotions">Promotions voted for over the pair's life.</param>
public sealed record WitnessPairStatus(
    string PairId,
    DataGenerations Generations,
    NodeRole Holder,
    TimeSpan LeaseHeldFor,
    TimeSpan? PrimarySeenAgo,
    TimeSpan? SecondarySeenAgo,
    int Promotions);
