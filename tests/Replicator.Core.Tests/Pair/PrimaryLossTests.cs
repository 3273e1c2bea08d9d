using Replicator.Core.Guest;
using Replicator.Core.Primary;
using Replicator.InMemory;

namespace Replicator.Core.Tests.Pair;

/// <summary>I2 at each named point of the primary's life where it can die.</summary>
public class PrimaryLossTests
{
    private static InMemoryPair NewPair(int seed) => new(new InMemoryPairOptions
    {
        Seed = seed,
        CheckpointIntervalSteps = 120,
        Guest = new SyntheticGuestOptions { Seed = seed, DiskBytes = 256 * 1024, RamPages = 16, MaxWriteBytes = 16 * 1024 },
    });

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Lost_mid_epoch_with_writes_in_flight(int seed)
    {
        InMemoryPair pair = NewPair(seed);
        pair.IssueRequests(5_000);
        pair.Checkpoint();
        Assert.True(pair.RunUntil(() => pair.Primary.Phase == PrimaryPhase.Running && pair.Primary.InFlightCount > 2));
        pair.CrashPrimary(deliverInFlight: true);

        FailoverOutcome outcome = pair.Failover();
        Assert.True(outcome.Epoch < pair.Primary.CurrentEpoch);
        Assert.Empty(pair.Violations);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Lost_mid_drain(int seed)
    {
        InMemoryPair pair = NewPair(seed);
        pair.IssueRequests(5_000);
        pair.Checkpoint();
        Assert.True(pair.RunUntil(() => pair.Primary.Phase == PrimaryPhase.Draining && pair.Primary.InFlightCount > 0));
        long draining = pair.Primary.CurrentEpoch;
        pair.CrashPrimary(deliverInFlight: true);

        FailoverOutcome outcome = pair.Failover();
        Assert.True(outcome.Epoch < draining, "an epoch whose checkpoint was never sent must not be taken over");
        Assert.Empty(pair.Violations);
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(2, true)]
    [InlineData(1, false)]
    [InlineData(2, false)]
    public void Lost_after_sending_the_checkpoint_but_before_its_ack(int seed, bool checkpointArrives)
    {
        InMemoryPair pair = NewPair(seed);
        pair.AutomaticCheckpoints = false;
        pair.IssueRequests(300);
        pair.RunUntil(() => pair.Guest.RequestsIssued >= 300);
        long acknowledged = pair.Checkpoint();

        pair.IssueRequests(100);
        pair.RunUntil(() => pair.Guest.RequestsIssued >= 400);
        pair.RequestCheckpoint();
        long sent = pair.Primary.LastCheckpointStarted;
        Assert.True(pair.RunUntil(() => pair.Primary.UnacknowledgedCheckpoints == 1));
        pair.CrashPrimary(deliverInFlight: checkpointArrives);

        FailoverOutcome outcome = pair.Failover();
        Assert.Equal(checkpointArrives ? sent : acknowledged, outcome.Epoch);
        Assert.Empty(pair.Violations);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Lost_after_the_ack(int seed)
    {
        InMemoryPair pair = NewPair(seed);
        pair.AutomaticCheckpoints = false;
        pair.IssueRequests(300);
        long acknowledged = pair.Checkpoint();
        pair.CrashPrimary(deliverInFlight: false);

        FailoverOutcome outcome = pair.Failover();
        Assert.Equal(acknowledged, outcome.Epoch);
        Assert.Empty(pair.Violations);
    }
}
