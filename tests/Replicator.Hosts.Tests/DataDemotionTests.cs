using Replicator.Hosts.Storage;
using Replicator.InMemory;
using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Tests;

/// <summary><c>replicator demote</c>: only where a writer's role came from changes; the data stays.</summary>
public sealed class DataDemotionTests
{
    private static readonly DataGenerations Promoted = DataGenerations.None
        .Begin(new GenerationMark { Id = 1, Cause = GenerationCause.Created })
        .Begin(new GenerationMark { Id = 2, Cause = GenerationCause.Promotion });

    [Fact]
    public void A_writer_by_promotion_is_demoted_keeping_its_data_and_a_second_demote_changes_nothing()
    {
        var directory = new MemoryStorageDirectory("state");
        var store = new NodeStateStore(directory);
        var promoted = new NodeState { PairId = "pair-1", Role = NodeRole.Primary, PrimaryByPromotion = true, Generations = Promoted, AppliedEpoch = 40, DirtyLogId = 7 };
        store.Save(promoted);

        Assert.Equal(DemotionOutcome.Demoted, DataDemotion.Apply(directory));
        NodeState demoted = store.Load()!;
        Assert.False(demoted.PrimaryByPromotion);
        Assert.Equal((NodeRole.Primary, 40L, 7UL, Promoted.Current), (demoted.Role, demoted.AppliedEpoch, demoted.DirtyLogId, demoted.Generations.Current));

        Assert.Equal(DemotionOutcome.AlreadyDemotable, DataDemotion.Apply(directory));
    }

    [Fact]
    public void A_writer_whose_takeover_has_not_finished_writing_back_is_refused_and_left_as_it_is()
    {
        var directory = new MemoryStorageDirectory("state");
        var store = new NodeStateStore(directory);
        var promoted = new NodeState { PairId = "pair-1", Role = NodeRole.Primary, PrimaryByPromotion = true, Generations = Promoted, AppliedEpoch = -1, DirtyLogId = 7 };
        store.Save(promoted);
        var drains = new TakeoverDrainStore(directory);
        drains.Save(new TakeoverDrain { Epoch = 40, AppliedEpoch = 37 });

        InvalidDataException refused = Assert.Throws<InvalidDataException>(() => DataDemotion.Apply(directory));
        Assert.Contains("took over at checkpoint 40, but its image holds only 37", refused.Message, StringComparison.Ordinal);
        Assert.Contains(TakeoverDrainStore.FileName, refused.Message, StringComparison.Ordinal);
        Assert.True(store.Load()!.PrimaryByPromotion);

        drains.Save(new TakeoverDrain { Epoch = 40, AppliedEpoch = 40 }); // the restart wrote the rest back
        Assert.Equal(DemotionOutcome.Demoted, DataDemotion.Apply(directory));
    }

    [Fact]
    public void A_secondary_is_left_as_it_is_and_a_directory_no_node_ran_in_is_refused_by_name()
    {
        var directory = new MemoryStorageDirectory("state");
        InvalidDataException missing = Assert.Throws<InvalidDataException>(() => DataDemotion.Apply(directory));
        Assert.Contains("nothing to demote", missing.Message, StringComparison.Ordinal);

        var store = new NodeStateStore(directory);
        var secondary = new NodeState { PairId = "pair-1", Role = NodeRole.Secondary, Generations = Promoted };
        store.Save(secondary);
        Assert.Equal(DemotionOutcome.Follows, DataDemotion.Apply(directory));
        Assert.Equal(NodeRole.Secondary, store.Load()!.Role);
    }
}
