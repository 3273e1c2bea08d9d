using Replicator.Core.Guest;
using Replicator.Core.Secondary;
using Replicator.InMemory;

namespace Replicator.Core.Tests.Pair;

/// <summary>
/// The whole core driven as a pair under the synthetic guest, over many seeds: I1 at every commit,
/// I2 at failover from every phase, I4 after power cuts, I5 at every output release, the bound.
/// </summary>
public class PairInvariantTests
{
    private static InMemoryPair NewPair(int seed, long bufferBytes = 4 << 20, int interval = 150, long writebackBytes = 4 << 20) => new(new InMemoryPairOptions
    {
        Seed = seed,
        SecondaryBufferBytes = bufferBytes,
        SecondaryWritebackBytes = writebackBytes,
        CheckpointIntervalSteps = interval,
        Guest = new SyntheticGuestOptions { Seed = seed, DiskBytes = 256 * 1024, RamPages = 32, MaxWriteBytes = 16 * 1024 },
    });

    public static TheoryData<int> Seeds()
    {
        var data = new TheoryData<int>();
        for (int seed = 1; seed <= 40; seed++)
        {
            data.Add(seed);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void I1_every_commit_equals_the_primary_at_its_checkpoint(int seed)
    {
        InMemoryPair pair = NewPair(seed);
        pair.IssueRequests(600);
        Assert.True(pair.RunToQuiescence());
        long last = pair.Checkpoint();

        Assert.Empty(pair.Violations);
        Assert.True(last >= 3, $"only {last} epochs committed");

        // An interval checkpoint may start behind the explicit one and commit before the run stops.
        Assert.InRange(pair.Secondary.LastCommittedEpoch, last, last + 1);
        Assert.Null(pair.DegradedReason);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void I2_failover_after_the_primary_dies_at_a_random_step_lands_on_one_checkpoint(int seed)
    {
        InMemoryPair pair = NewPair(seed);
        pair.IssueRequests(2_000);
        int crashAt = new Random(seed).Next(50, 1_500);
        pair.RunUntil(() => pair.Steps >= crashAt);
        pair.CrashPrimary(deliverInFlight: seed % 2 == 0);

        FailoverOutcome outcome = pair.Failover();

        Assert.Empty(pair.Violations);
        Assert.Null(pair.VerifyFailover(outcome));
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void I4_a_power_cut_mid_apply_leaves_a_legal_crash_state_and_recovery_restores_the_last_commit(int seed)
    {
        InMemoryPair pair = NewPair(seed);
        pair.IssueRequests(1_500);
        int cutAt = new Random(seed).Next(100, 1_200);
        pair.RunUntil(() => pair.Steps >= cutAt);
        long committed = pair.Secondary.LastCommittedEpoch;

        pair.PowerCutSecondary();

        Assert.Null(pair.CommittedHistory.CheckLegal(pair.SecondaryImage.Contents));
        pair.RestartSecondary();
        Assert.Equal(committed, pair.Secondary.LastCommittedEpoch);
        FailoverOutcome outcome = pair.Failover();
        Assert.Equal(committed, outcome.Epoch);
        Assert.Empty(pair.Violations);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void I5_output_is_released_only_after_its_epoch_commits(int seed)
    {
        InMemoryPair pair = NewPair(seed);
        pair.IssueRequests(800);
        Assert.True(pair.RunToQuiescence());
        pair.Checkpoint();

        Assert.Empty(pair.Violations);
        Assert.NotEmpty(pair.ReleasedOutputs);
        Assert.Equal(0, pair.Primary.HeldOutputs);
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(2, 0)]
    [InlineData(3, 64 * 1024)]
    [InlineData(4, 64 * 1024)]
    public void Memory_bound_holds_with_a_small_buffer_and_writes_never_stop_for_good(int seed, int writebackBytes)
    {
        // 96 KiB of buffer against up to 16 KiB writes: the primary must checkpoint early and wait
        // for credit again and again, yet every request completes and every epoch commits. RAM holds
        // at most the credit window plus the write-back's backlog bound.
        InMemoryPair pair = NewPair(seed, bufferBytes: 96 * 1024, interval: 100_000, writebackBytes: writebackBytes);
        pair.IssueRequests(1_500);
        Assert.True(pair.RunToQuiescence());
        pair.Checkpoint();

        Assert.Empty(pair.Violations);
        Assert.Equal(SecondaryPhase.Replicating, pair.Secondary.Phase);
        Assert.InRange(pair.Secondary.PeakBufferedBytes, 1, (96 * 1024) + writebackBytes);
        Assert.Equal(0, pair.Primary.QueuedCount);
        Assert.True(pair.Secondary.LastCommittedEpoch > 5, $"only {pair.Secondary.LastCommittedEpoch} epochs: early checkpoints did not fire");
    }
}
