using Replicator.Hosts.Links;
using Replicator.Hosts.Primary;
using Replicator.Hosts.Storage;
using Replicator.Hosts.Tests.Support;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using static Replicator.Hosts.Tests.Support.RecordingPrimaryActions;

namespace Replicator.Hosts.Tests;

/// <summary>Checkpoint waiters, timings and the clean stop.</summary>
public sealed class PrimaryHostCheckpointTests
{
    [Fact]
    public void A_waiter_returns_once_its_checkpoint_is_acknowledged_with_the_timing()
    {
        var h = new PrimaryHarness();
        LinkId link = h.StartConnected();
        h.Forget();
        h.Host.RequestCheckpoint(5);
        Assert.Equal([typeof(Paused), typeof(CaptureAsked)], h.Actions.Calls.Select(c => c.GetType()));

        h.Time.Advance(TimeSpan.FromMilliseconds(3));
        h.Pump(LinkId.None);   // captured: the checkpoint goes out, the guest resumes
        Assert.Contains(h.Actions.Of<Sent>(), s => s.Type == FrameType.Checkpoint);
        Assert.Empty(h.Actions.Of<WaiterCompleted>());

        h.Time.Advance(TimeSpan.FromMilliseconds(7));
        h.Host.OnFrame(link, PrimaryHarness.Ack(1));
        Assert.Equal(new WaiterCompleted(5, 1), Assert.Single(h.Actions.Of<WaiterCompleted>()));
        CheckpointTiming timing = Assert.Single(h.Actions.Of<CheckpointTiming>());
        Assert.Equal((1L, TimeSpan.FromMilliseconds(3), TimeSpan.FromMilliseconds(10)), (timing.Epoch, timing.Pause, timing.Commit));
    }

    [Fact]
    public void A_snapshot_is_released_to_the_shell_once_its_checkpoint_is_serialised_never_before()
    {
        var h = new PrimaryHarness();
        LinkId link = h.StartConnected();
        var snapshot = new Core.Vm.VmSnapshot(1, [1, 2], [new Core.Vm.VmPage(0, new byte[4096])]);
        h.Capture = _ => snapshot;
        h.Forget();
        h.Host.RequestCheckpoint(5);
        h.Pump(LinkId.None);

        // Its pages may go to the next capture only after Send serialised the checkpoint that carries them.
        int sent = h.Actions.Calls.FindIndex(c => c is Sent { Type: FrameType.Checkpoint });
        int released = h.Actions.Calls.FindIndex(c => c is SnapshotReleased);
        Assert.InRange(sent, 0, released - 1);
        Assert.Same(snapshot, Assert.Single(h.Actions.Of<SnapshotReleased>()).Snapshot);
    }

    [Fact]
    public void Waiters_fail_when_replication_degrades_and_no_checkpoint_is_taken_while_degraded()
    {
        var h = new PrimaryHarness();
        LinkId link = h.StartConnected();
        h.Host.RequestCheckpoint(1);
        h.Host.RequestCheckpoint(2);
        h.Host.OnLinkClosed(link, "cable pulled");

        Assert.Equal([1L, 2L], h.Actions.Of<WaiterFailed>().Select(w => w.WaiterId));
        Assert.All(h.Actions.Of<WaiterFailed>(), w => Assert.Contains("replication is degraded: cable pulled", w.Reason, StringComparison.Ordinal));

        h.Host.RequestCheckpoint(3);
        Assert.Contains("no checkpoint: replication is degraded", Assert.Single(h.Actions.Of<WaiterFailed>(), w => w.WaiterId == 3).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void During_a_resync_a_waiter_waits_for_protection_not_only_for_the_acknowledgement()
    {
        // One region as large as the image: the resync takes more than one epoch to copy.
        var h = new PrimaryHarness(o => o with { DirtyRegionBytes = 1 << 20 });
        LinkId link = h.StartConnected();
        h.Write(1, 0);
        h.Pump(link);
        h.Host.OnLinkClosed(link, "cable pulled");
        h.Write(2, 0);
        h.Pump(LinkId.None);
        LinkId next = h.Reconnect();
        Assert.True(h.Host.Engine!.ResyncRegionsLeft > 0);

        h.Host.RequestCheckpoint(9);
        h.Pump(next);
        WaiterCompleted done = Assert.Single(h.Actions.Of<WaiterCompleted>());
        Assert.Equal(9, done.WaiterId);
        Assert.Equal(Core.Primary.PrimaryReplication.Protected, h.Host.Engine.Replication);
        Assert.Equal(2, done.Epoch);   // its own checkpoint, acknowledged while still resyncing
        Assert.True(h.Host.Engine.LastAcknowledgedEpoch > done.Epoch);
        Assert.True(h.Actions.Calls.FindIndex(c => c is Replication { State: Core.Primary.PrimaryReplication.Protected }) < h.Actions.Calls.IndexOf(done));
    }

    [Fact]
    public void A_clean_stop_records_the_acknowledged_checkpoint_and_takes_no_interval_checkpoint_after()
    {
        var h = new PrimaryHarness();
        LinkId link = h.StartConnected();
        h.Host.StopCleanly(4);
        h.Pump(link);
        Assert.Equal(new WaiterCompleted(4, 1), Assert.Single(h.Actions.Of<WaiterCompleted>()));
        Assert.Equal(1, new NodeStateStore(h.Directory).Load()!.AppliedEpoch);

        h.Forget();
        h.Host.OnEpochTick();
        Assert.Empty(h.Actions.Calls);
    }

    [Fact]
    public void A_checkpoint_before_the_start_fails_at_once()
    {
        var h = new PrimaryHarness();
        h.Host.RequestCheckpoint(1);
        Assert.Contains("not running", Assert.Single(h.Actions.Of<WaiterFailed>()).Reason, StringComparison.Ordinal);
    }
}
