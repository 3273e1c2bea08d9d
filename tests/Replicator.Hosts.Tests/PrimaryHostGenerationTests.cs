using Replicator.Core.Primary;
using Replicator.Hosts.Links;
using Replicator.Hosts.Primary;
using Replicator.Hosts.Storage;
using Replicator.Hosts.Tests.Support;
using Replicator.InMemory;
using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;
using static Replicator.Hosts.Tests.Support.RecordingPrimaryActions;

namespace Replicator.Hosts.Tests;

/// <summary>The primary's data generations: when it draws one, and what it does with each row of the table.</summary>
public class PrimaryHostGenerationTests
{
    [Fact]
    public void A_new_primary_begins_the_pair_s_data_and_records_it_before_anything_else()
    {
        var h = new PrimaryHarness();
        h.Host.Start();
        h.Connect();

        NodeState state = new NodeStateStore(h.Directory).Load()!;
        Assert.Equal(GenerationCause.Created, state.Generations.Current!.Cause);
        Assert.Empty(state.Generations.History);
        HelloMessage hello = Assert.Single(h.Actions.Of<Sent>().Select(s => s.Message).OfType<HelloMessage>());
        Assert.Equal(state.Generations.Current, hello.Generations.Current);
    }

    [Fact]
    public void Writing_with_no_secondary_following_begins_one_new_generation_however_often_the_link_fails()
    {
        // One region as large as the image: the resync never runs out of reads to admit, so each
        // new link finds the engine between epochs and resyncing at once.
        var h = new PrimaryHarness(o => o with { DirtyRegionBytes = 1 << 20 });
        h.StartConnectedThenLose();
        GenerationMark created = h.Host.Generations.History.Single();

        NodeState state = new NodeStateStore(h.Directory).Load()!;
        Assert.Equal(GenerationCause.UnprotectedWriting, state.Generations.Current!.Cause);
        Assert.Equal(-1, state.AppliedEpoch);

        // Links that come back and fail again before the resync completes draw nothing new: the
        // secondary's generation stays in the history, however often the link flaps.
        DataGenerations secondary = DataGenerations.None.Begin(created);
        h.Write(1, 0);
        h.Host.OnLocalCompleted(1, Core.Blocks.BlockRequest.Write(0, 4096), null);
        for (int i = 0; i < 20; i++)
        {
            h.Host.OnReconnectDue();
            LinkId link = h.Connect();
            h.Host.OnFrame(link, PrimaryHarness.Input(h.Welcome(generations: secondary)));
            Assert.Equal(PrimaryReplication.Resyncing, h.Host.Engine!.Replication);
            h.Host.OnLinkClosed(link, "cut again");
        }

        Assert.Equal([created], new NodeStateStore(h.Directory).Load()!.Generations.History);
        Assert.Equal(PairRelation.SecondaryBehind, GenerationTable.Relate(h.Host.Generations, secondary));
    }

    [Fact]
    public void A_full_disk_under_the_state_record_when_writing_goes_unprotected_fails_every_guest_request_instead()
    {
        var faults = new FailingWrites();
        var h = new PrimaryHarness(directory: new MemoryStorageDirectory("state", faults));
        LinkId link = h.StartConnected();
        h.Write(1, 0);
        faults.FailFrom = NodeStateStore.FileName;

        h.Host.OnLinkClosed(link, "cable pulled");
        h.Host.OnLocalCompleted(1, Core.Blocks.BlockRequest.Write(0, 4096), null);
        h.Write(2, 8192);

        // Neither write is acknowledged: nothing on disk says that writes go on unprotected.
        Assert.Equal([new GuestCompleted(1, Core.Blocks.RequestStatus.IoError), new GuestCompleted(2, Core.Blocks.RequestStatus.IoError)], h.Actions.Of<GuestCompleted>());
        Assert.Equal(GenerationCause.Created, new NodeStateStore(h.Directory).Load()!.Generations.Current!.Cause);
    }

    [Fact]
    public void A_secondary_left_behind_is_resynced_from_the_map_and_one_that_wrote_alone_is_refused_as_split_brain()
    {
        var h = new PrimaryHarness();
        h.StartConnectedThenLose();
        DataGenerations behind = DataGenerations.None.Begin(h.Host.Generations.History[0]);
        h.Write(1, 0);
        h.Host.OnLocalCompleted(1, Core.Blocks.BlockRequest.Write(0, 4096), null);

        h.Host.OnReconnectDue();
        LinkId link = h.Connect();
        h.Host.OnFrame(link, PrimaryHarness.Input(h.Welcome(generations: behind)));

        ResyncStartMessage start = Assert.Single(h.Actions.Of<Sent>().Select(s => s.Message).OfType<ResyncStartMessage>());
        Assert.False(start.WholeImage);
        Assert.Equal(1, start.Regions);

        var split = new PrimaryHarness();
        split.StartConnectedThenLose();
        DataGenerations promoted = DataGenerations.None.Begin(split.Host.Generations.History[0]).Begin(GenerationMark.Draw(GenerationCause.Promotion, split.Time.GetUtcNow()));
        split.Host.OnReconnectDue();
        split.Host.OnFrame(split.Connect(), PrimaryHarness.Input(split.Welcome(generations: promoted)));

        Assert.Contains("split brain", split.Actions.Of<Closed>().Last().Reason, StringComparison.Ordinal);
        Assert.Equal(PrimaryReplication.Degraded, split.Host.Engine!.Replication);
        Assert.Equal(2, split.Actions.Of<ReconnectScheduled>().Count());
    }

    [Theory]
    [InlineData(false, false, PrimaryStartOutcome.Refused)]
    [InlineData(true, false, PrimaryStartOutcome.Running)]
    [InlineData(false, true, PrimaryStartOutcome.Running)]
    public void An_unrelated_image_is_copied_over_only_with_permission_and_a_blank_one_always(bool allowFullSync, bool blank, PrimaryStartOutcome outcome)
    {
        var h = new PrimaryHarness(o => o with { AllowFullSync = allowFullSync });
        h.Host.Start();
        DataGenerations other = blank ? DataGenerations.None : DataGenerations.None.Begin(GenerationMark.Draw(GenerationCause.Created, h.Time.GetUtcNow()));
        h.Host.OnFrame(h.Connect(), PrimaryHarness.Input(h.Welcome(generations: other)));

        PrimaryStart start = Assert.Single(h.Actions.Of<PrimaryStart>());
        Assert.Equal(outcome, start.Outcome);
        if (outcome == PrimaryStartOutcome.Refused)
        {
            Assert.Contains("no data generation in common", start.Reason, StringComparison.Ordinal);
            Assert.Contains("--allow-full-sync", start.Reason, StringComparison.Ordinal);
            Assert.Null(h.Host.Engine);
            return;
        }

        Assert.True(Assert.Single(h.Actions.Of<Sent>().Select(s => s.Message).OfType<ResyncStartMessage>()).WholeImage);
    }

    [Theory]
    [InlineData(true, 0, false)]
    [InlineData(false, 0, true)]
    [InlineData(true, 3, true)]
    public void A_blank_secondary_is_taken_as_equal_only_on_the_first_start_the_operator_vouched_for(bool skipInitialSync, long secondaryEpoch, bool synced)
    {
        var h = new PrimaryHarness(o => o with { SkipInitialSync = skipInitialSync });
        h.Host.Start();
        LinkId link = h.Connect();
        HelloMessage hello = Assert.Single(h.Actions.Of<Sent>().Select(s => s.Message).OfType<HelloMessage>());
        Assert.Equal(skipInitialSync, hello.VouchesBlankSecondaryEqual);
        h.Host.OnFrame(link, PrimaryHarness.Input(h.Welcome(epoch: secondaryEpoch, generations: DataGenerations.None)));

        Assert.Equal(PrimaryStart.Running, Assert.Single(h.Actions.Of<PrimaryStart>()));
        Assert.Equal(synced, h.Actions.Of<Sent>().Any(s => s.Message is ResyncStartMessage { WholeImage: true }));
        Assert.Equal(synced ? PrimaryReplication.Resyncing : PrimaryReplication.Protected, h.Host.Engine!.Replication);
    }

    [Fact]
    public void A_primary_that_crashed_is_not_refused_but_syncs_its_secondary_whole()
    {
        var h = new PrimaryHarness();
        h.StartConnected();
        DataGenerations held = h.Host.Generations;

        // The process dies; its state record says the images are not known equal.
        var restarted = new PrimaryHarness(directory: h.Directory);
        restarted.Host.Start();
        restarted.Host.OnFrame(restarted.Connect(), PrimaryHarness.Input(restarted.Welcome(epoch: 4, sequence: 9, generations: held)));

        Assert.Equal(PrimaryStart.Running, Assert.Single(restarted.Actions.Of<PrimaryStart>()));
        Assert.Equal(held.Current, restarted.Host.Generations.Current);
        Assert.True(Assert.Single(restarted.Actions.Of<Sent>().Select(s => s.Message).OfType<ResyncStartMessage>()).WholeImage);
    }

    [Fact]
    public void Without_its_secondary_a_primary_starts_only_when_allowed_and_then_syncs_what_it_wrote_once_the_secondary_is_back()
    {
        var refused = new PrimaryHarness();
        refused.Host.Start();
        refused.Host.OnConnectFailed("connection refused");
        PrimaryStart start = Assert.Single(refused.Actions.Of<PrimaryStart>());
        Assert.Equal(PrimaryStartOutcome.Unreachable, start.Outcome);
        Assert.Contains("--start-without-secondary", start.Reason, StringComparison.Ordinal);

        // A pair stopped cleanly at checkpoint 6 (sequence 60): both images were equal there.
        var h = new PrimaryHarness(o => o with { StartWithoutSecondary = true });
        GenerationMark shared = GenerationMark.Draw(GenerationCause.Created, h.Time.GetUtcNow());
        new NodeStateStore(h.Directory).Save(new NodeState { PairId = "pair-1", Role = NodeRole.Primary, Generations = DataGenerations.None.Begin(shared), AppliedEpoch = 6, AppliedLastSequence = 60 });
        h.Host.Start();
        h.Host.OnConnectFailed("connection refused");

        Assert.Equal(PrimaryStart.Running, Assert.Single(h.Actions.Of<PrimaryStart>()));
        Assert.Equal(PrimaryReplication.Degraded, h.Host.Engine!.Replication);
        Assert.Equal(GenerationCause.UnprotectedWriting, new NodeStateStore(h.Directory).Load()!.Generations.Current!.Cause);
        Assert.Single(h.Actions.Of<ReconnectScheduled>());
        h.Write(1, 8192);
        Assert.Single(h.Actions.Of<Issued>());

        h.Host.OnReconnectDue();
        LinkId link = h.Connect();
        h.Host.OnFrame(link, PrimaryHarness.Input(h.Welcome(epoch: 6, sequence: 60, generations: DataGenerations.None.Begin(shared))));

        ResyncStartMessage resync = Assert.Single(h.Actions.Of<Sent>().Select(s => s.Message).OfType<ResyncStartMessage>());
        Assert.False(resync.WholeImage);
        Assert.Equal(1, resync.Regions);
        Assert.Equal(6, resync.BaseEpoch);
    }
}
