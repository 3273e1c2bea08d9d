using Replicator.Core.Epochs;
using Replicator.Hosts.Links;
using Replicator.Hosts.Secondary;
using Replicator.Hosts.Storage;
using Replicator.Hosts.Tests.Support;
using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Tests;

/// <summary>The secondary's data generations: what it refuses, when it takes the primary's, and what promotion adds.</summary>
public class SecondaryHostGenerationTests
{
    private static readonly DataGenerations Promoted = SecondaryHarness.PrimaryGenerations.Begin(new GenerationMark { Id = 0xa11, SinceUnixMilliseconds = 1_700_000_100_000, Cause = GenerationCause.Promotion });

    [Fact]
    public void A_blank_node_is_never_promoted_unless_its_operator_vouched_its_image_equal()
    {
        var blank = new SecondaryHarness(blank: true);
        Assert.Contains("never held the pair's data", blank.Host.Promote("operator"), StringComparison.Ordinal);
        Assert.Empty(blank.Promotions);

        var vouched = new SecondaryHarness(blank: true);
        vouched.Connect(vouches: true);
        Assert.Null(vouched.Host.Promote("operator"));

        // The promotion is recorded only after the record of the vouched generations: one writer of the record at a time.
        Assert.Empty(vouched.Promotions);
        vouched.RunStorage();
        Assert.Equal([0L], vouched.Promotions);
        NodeState state = new NodeStateStore(vouched.Directory).Load()!;
        Assert.Equal(GenerationCause.Promotion, state.Generations.Current!.Cause);
        Assert.Equal(SecondaryHarness.PrimaryGenerations.Current, state.Generations.History[0]);
    }

    [Fact]
    public void A_primary_whose_data_this_node_moved_on_from_is_fenced_and_a_diverged_one_refused_as_split_brain()
    {
        var ahead = new SecondaryHarness();
        new NodeStateStore(ahead.Directory).Save(new NodeStateStore(ahead.Directory).Load()! with { Generations = Promoted });
        ahead = new SecondaryHarness(directory: ahead.Directory);
        LinkId stale = ahead.Connect();
        Assert.Contains(ahead.Closed, c => c.Link == stale && c.Fenced && c.Reason.Contains("holds newer data", StringComparison.Ordinal));

        var diverged = new SecondaryHarness(directory: ahead.Directory);
        DataGenerations alone = SecondaryHarness.PrimaryGenerations.Begin(new GenerationMark { Id = 0xb22, Cause = GenerationCause.UnprotectedWriting });
        LinkId split = diverged.Connect(generations: alone);
        Assert.Contains(diverged.Closed, c => c.Link == split && !c.Fenced && c.Reason.Contains("split brain", StringComparison.Ordinal));
        Assert.Empty(diverged.SentOf<WelcomeMessage>(split));
    }

    [Fact]
    public void A_synced_node_takes_the_primary_s_generations_only_once_the_epoch_that_completes_the_copy_is_applied()
    {
        var pair = new SecondaryHarness();
        DataGenerations moved = SecondaryHarness.PrimaryGenerations.Begin(new GenerationMark { Id = 0xc33, Cause = GenerationCause.UnprotectedWriting });
        LinkId link = pair.Connect(generations: moved);
        Assert.Equal(SecondaryHarness.PrimaryGenerations.Current, Assert.Single(pair.SentOf<WelcomeMessage>(link)).Generations.Current);

        pair.Host.OnInput(link, SecondaryHarness.ResyncStart(baseEpoch: 0, firstEpoch: 1, firstSequence: 1, moved, wholeImage: false));
        pair.SendEpoch(link, 1, 1, resyncPending: true, startsResync: true);
        pair.RunStorage();
        Assert.Equal(SecondaryHarness.PrimaryGenerations.Current, new NodeStateStore(pair.Directory).Load()!.Generations.Current);
        Assert.Contains("middle of a resync", pair.Host.Promote("operator"), StringComparison.Ordinal);

        pair.SendEpoch(link, 2, 2);
        pair.RunStorage();
        NodeState state = new NodeStateStore(pair.Directory).Load()!;
        Assert.Equal(moved.Current, state.Generations.Current);
        Assert.Null(state.SyncTarget);
    }

    [Fact]
    public void No_epoch_of_a_sync_is_journalled_before_the_record_of_what_the_sync_brings()
    {
        var pair = new SecondaryHarness(blank: true);
        LinkId link = pair.Connect();
        pair.Host.OnInput(link, SecondaryHarness.ResyncStart(baseEpoch: 0, firstEpoch: 1, firstSequence: 1, SecondaryHarness.PrimaryGenerations, wholeImage: true));
        pair.SendEpoch(link, 1, 1, startsResync: true);

        // Only the sync's target is asked for: the epoch that completes the copy waits for it, so a
        // power cut can never leave that epoch committed with nothing saying which data it completes.
        Assert.Equal(1, pair.PendingStorage);
        Assert.False(pair.Host.HoldsPairData);
        pair.RunStorage(1);
        Assert.Equal(1, pair.PendingStorage);
        pair.RunStorage(1);
        Assert.Single(pair.SentOf<AckMessage>(link));
        Assert.True(pair.Host.HoldsPairData);
        Assert.Null(pair.Host.Promote("operator"));
    }

    [Fact]
    public void A_promoted_node_restarted_comes_back_promoted_in_the_same_generation_and_still_fences_the_old_primary()
    {
        var first = new SecondaryHarness();
        LinkId link = first.Connect();
        first.SendEpoch(link, 1, 1);
        first.RunStorage();
        Assert.Null(first.Host.Promote("operator"));
        first.RunStorage();
        Assert.Equal([1L], first.Promotions);
        GenerationMark promotion = new NodeStateStore(first.Directory).Load()!.Generations.Current!;

        var restarted = new SecondaryHarness(directory: first.Directory);

        Assert.Equal([1L], restarted.Promotions);
        Assert.Equal(1, restarted.Host.PromotedEpoch);
        Assert.StartsWith("promoted: serving checkpoint 1 (the image, with committed epochs not yet written back read from RAM); writes from here on are ", Assert.Single(first.Logged("promoted:")), StringComparison.Ordinal);
        Assert.StartsWith("still promoted after a restart: serving checkpoint 1 (", Assert.Single(restarted.Logged("still promoted")), StringComparison.Ordinal);
        Assert.Empty(restarted.Logged("promoted:"));
        Assert.Equal(promotion, new NodeStateStore(restarted.Directory).Load()!.Generations.Current);
        LinkId old = restarted.Connect();
        Assert.Contains(restarted.Closed, c => c.Link == old && c.Fenced);
    }

    [Fact]
    public void A_copy_of_changed_regions_only_is_refused_on_a_blank_image()
    {
        var pair = new SecondaryHarness(blank: true);
        LinkId link = pair.Connect();
        pair.Host.OnInput(link, SecondaryHarness.ResyncStart(baseEpoch: 0, firstEpoch: 1, firstSequence: 1, SecondaryHarness.PrimaryGenerations, wholeImage: false));

        Assert.Contains(pair.Closed, c => c.Link == link && c.Reason.Contains("cannot make this image equal", StringComparison.Ordinal));
    }
}
