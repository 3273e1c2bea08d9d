using Replicator.Core.Guest;
using Replicator.Core.Primary;
using Replicator.InMemory;

namespace Replicator.Core.Tests.Pair;

/// <summary>
/// I7 over many seeds: the link is cut at a random step (acknowledgements and frames in flight are
/// lost), the guest writes on while degraded, the link heals, and the resync runs with the guest still
/// writing — overlapping the regions being copied. The pair must end protected with both disks and
/// the VM state equal, and every consistent epoch the secondary applied on the way must equal the
/// guest's own record of it. The pair runs the daemons' hosts: the primary's host reconnects on its
/// own backoff and decides the resync; the secondary's host gates its welcome on the journal.
/// </summary>
public class ResyncPairTests
{
    /// <summary>A pair of small regions and a short interval, so a resync copies many regions over several epochs.</summary>
    private static InMemoryPair NewPair(int seed, long diskBytes, int maxRequestBytes = 32 * 1024) => new(new InMemoryPairOptions
    {
        Seed = seed,
        SecondaryBufferBytes = 512 * 1024,
        CheckpointIntervalSteps = 60,
        MaxRequestBytes = maxRequestBytes,
        DirtyRegionBytes = 64 * 1024,
        Guest = new SyntheticGuestOptions { Seed = seed, DiskBytes = diskBytes, RamPages = 256, PageSize = 4096, MaxWriteBytes = 16 * 1024, RetainedCheckpoints = 0 },
    });

    public static TheoryData<int> Seeds()
    {
        var data = new TheoryData<int>();
        for (int seed = 1; seed <= 30; seed++)
        {
            data.Add(seed);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void I7_after_a_cut_and_a_resync_under_load_both_sides_are_equal(int seed)
    {
        InMemoryPair pair = NewPair(seed, diskBytes: 8 << 20);
        pair.IssueRequests(3_000);
        var random = new Random(seed);
        int cutAt = random.Next(200, 1_500);
        int healAt = cutAt + random.Next(20, 300);
        pair.RunUntil(() => pair.Steps >= cutAt);
        pair.CutLink();
        pair.RunUntil(() => pair.Steps >= healAt);

        Assert.Null(pair.Reconnect());
        pair.RunUntil(() => pair.Primary.Replication == PrimaryReplication.Protected);
        Assert.True(pair.RunToQuiescence());
        pair.CheckpointAndSettle();

        AssertEqualAndProtected(pair);
        Assert.Single(pair.ResyncStarts);
        Assert.True(pair.ResyncBytesRead > 0, "nothing was copied");
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void I7_a_cut_in_the_middle_of_a_resync_is_healed_by_the_next_one(int seed)
    {
        InMemoryPair pair = NewPair(seed, diskBytes: 4 << 20, maxRequestBytes: 16 * 1024);
        pair.IssueRequests(4_000);
        pair.RunUntil(() => pair.Steps >= 600);
        pair.CutLink();
        pair.RunUntil(() => pair.Steps >= 1_400);
        Assert.Null(pair.Reconnect());

        // Let the resync commit an epoch or two with regions still to copy, then cut again: the
        // regions it had not reached must not look clean to the next resync.
        pair.RunUntil(() => pair.Secondary.LastCommittedEpoch > pair.ResyncStarts[0].FirstEpoch || pair.Primary.Replication == PrimaryReplication.Protected);
        Assert.True(pair.Secondary.IsResyncing && pair.Primary.ResyncRegionsLeft > 0, "the resync ended before the second cut");
        pair.CutLink();
        pair.RunUntil(() => pair.Steps >= 2_600);
        Assert.Null(pair.Reconnect());
        pair.RunUntil(() => pair.Primary.Replication == PrimaryReplication.Protected);
        Assert.True(pair.RunToQuiescence());
        pair.CheckpointAndSettle();

        AssertEqualAndProtected(pair);
        Assert.Equal(2, pair.ResyncStarts.Count);
    }

    private static void AssertEqualAndProtected(InMemoryPair pair)
    {
        Assert.Empty(pair.Violations);
        Assert.Equal(PrimaryReplication.Protected, pair.Primary.Replication);
        Assert.Null(pair.Primary.DegradedReason);
        Assert.NotEmpty(pair.ProtectedAt);
        Assert.Empty(pair.Primary.RegionsSecondaryMayLack());
        Assert.Equal(pair.Primary.LastAcknowledgedEpoch, pair.Secondary.LastAppliedEpoch);
        Assert.False(pair.Secondary.IsResyncing);
        Assert.True(pair.PrimaryDisk.Contents.SequenceEqual(pair.SecondaryImage.Contents), "the disks differ after the resync");
        Assert.True(pair.Guest.Ram.SequenceEqual(pair.SecondaryHost.Store!.LoadVmState().Ram), "the RAM differs after the resync");
        Assert.True(pair.CheckedEpochs > 0);
    }
}
