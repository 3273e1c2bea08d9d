using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Witness;

/// <summary>
/// What a witness keeps durably for one pair: the generations of the node that may write the pair's
/// data — the last primary it leased to, or the secondary it voted to promote — and how many
/// promotions it granted. A vote is recorded here before it is answered, so at most one promotion
/// per generation can ever win, across restarts of the witness.
/// </summary>
public sealed record WitnessRecord
{
    public const int CurrentFormatVersion = 1;

    public int FormatVersion { get; init; } = CurrentFormatVersion;

    public required string PairId { get; init; }

    /// <summary>The writer's lineage as the witness last learnt it; blank until a node first asks.</summary>
    public DataGenerations Generations { get; init; } = DataGenerations.None;

    /// <summary>The role of the node that holds <see cref="Generations"/>: a leased primary, or a promoted secondary.</summary>
    public NodeRole Holder { get; init; }

    /// <summary>Promotions this witness voted for, over the pair's life.</summary>
    public int Promotions { get; init; }

    /// <summary>When the witness last changed the record (its own clock), for operators.</summary>
    public DateTimeOffset ChangedAt { get; init; }
}
