using Replicator.Core.Epochs;
using Replicator.Core.Guest;
using Replicator.Core.Vm;
using Replicator.InMemory;
using Replicator.Sim.World;

namespace Replicator.Sim.Checks;

/// <summary>
/// The invariants of design notes §3, checked as the run goes (I1 at every commit, I3 against what
/// the primary sent, I4 at every power cut and recovery, I5 at every output release, the memory
/// bound at every delivery, liveness on a timer) and at every failover (I2, I6).
/// </summary>
// initialDisk: the secondary's image before anything was committed (the primary's, unless the secondary starts blank).
internal sealed class Checker(SimScheduler clock, Trace trace, SyntheticGuest guest, ReadOnlySpan<byte> initialDisk)
{
    private readonly byte[] _initialDisk = initialDisk.ToArray();
    private readonly Dictionary<long, (long First, long Last, ulong Digest)> _sent = new();
    private readonly List<string> _violations = new();

    public IReadOnlyList<string> Violations => _violations;

    /// <summary>
    /// The committed epochs' requests in the order the secondary applies them, replays after a
    /// restart included, with the barriers the primary recorded: what a secondary crash state must
    /// be legal for (I4).
    /// </summary>
    public CrashHistory ApplyHistory { get; private set; } = new(initialDisk);

    public long Commits { get; private set; }

    /// <summary>A checkpoint that leaves the image complete (not mid-resync) was committed: from then on the node holds the pair's data.</summary>
    public bool CompleteCheckpointCommitted { get; private set; }

    public long LastCommitAt { get; private set; }

    /// <summary>The first byte at which two images differ, or null.</summary>
    public static long? FirstDifference(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual)
    {
        int common = expected.CommonPrefixLength(actual);
        return common == expected.Length && expected.Length == actual.Length ? null : common;
    }

    public void Fail(string violation)
    {
        if (_violations.Count < 20)
        {
            _violations.Add($"{clock.Now / 1000.0:F3} ms: {violation}");
        }

        trace.Event("VIOLATION", _violations.Count);
        trace.Note(() => $"VIOLATION {violation}");
    }

    /// <summary>
    /// The failback phase: the guest has stopped, the promoted node serves <paramref name="newPrimaryImage"/>
    /// unchanged, and the old primary, starting from <paramref name="oldPrimaryImage"/>, follows it.
    /// Every complete checkpoint it commits from now on must be exactly that image (I7), and its
    /// crash states are judged from what it starts with.
    /// </summary>
    public void BeginFailback(byte[] newPrimaryImage, byte[] oldPrimaryImage)
    {
        _failbackImage = newPrimaryImage;
        _sent.Clear();
        RebaseHistory(oldPrimaryImage);
    }

    /// <summary>Whether the failback phase runs (the old primary follows the promoted node).</summary>
    public bool FailingBack => _failbackImage is not null;

    private byte[]? _failbackImage;
    private long? _failbackSyncedAt;

    public void CheckpointSent(long epoch, long firstSequence, long lastSequence, ulong digest) =>
        _sent[epoch] = (firstSequence, lastSequence, digest);

    /// <summary>
    /// The secondary's commit point: the epoch's journal entry is durable. I3: it holds exactly the
    /// records the primary sent for the epoch. I1: the committed image and VM state equal the
    /// guest's own record of the checkpoint.
    /// </summary>
    public void Committed(CheckpointRecord checkpoint, IReadOnlyList<MirrorRecord> records, byte[] committedDisk, VmState committedVm)
    {
        Commits++;
        LastCommitAt = clock.Now;
        trace.Event("commit", checkpoint.Epoch);
        if (_sent.TryGetValue(checkpoint.Epoch, out var sent))
        {
            long expected = sent.Last - sent.First + 1;
            if (records.Count != expected || (records.Count > 0 && (records[0].Sequence != sent.First || records[^1].Sequence != sent.Last)))
            {
                Fail($"I3: epoch {checkpoint.Epoch} committed with {records.Count} records, the primary sent {expected} ({sent.First}..{sent.Last})");
            }
        }
        else
        {
            Fail($"I3: epoch {checkpoint.Epoch} committed, but the primary never closed it");
        }

        if (checkpoint.ResyncPending)
        {
            // Mid-resync some regions are newer than others: no checkpoint to compare with until
            // the epoch that completes the resync, which must match exactly (I7).
            return;
        }

        CompleteCheckpointCommitted = true;
        if (_failbackImage is { } failback)
        {
            _failbackSyncedAt ??= checkpoint.Epoch;
            if (FirstDifference(failback, committedDisk) is { } at)
            {
                Fail($"I7 (failback): epoch {checkpoint.Epoch} completed the old primary's sync, but its image differs from the new primary's at byte {at}");
            }

            return;
        }

        GuestCheckpoint? expectedState = guest.ExpectedAt(checkpoint.Epoch);
        string? difference = committedVm.Epoch != checkpoint.Epoch ? $"the committed VM state is of epoch {committedVm.Epoch}"
            : expectedState is null ? "the guest has no record of it"
            : expectedState.Compare(committedDisk, committedVm.Ram, committedVm.CpuState);
        if (difference is not null)
        {
            Fail($"I1: at the commit of epoch {checkpoint.Epoch}: {difference}");
        }
    }

    /// <summary>I4: right after a power cut the secondary's raw image is a legal crash state of the committed history as applied.</summary>
    public void SecondaryImageAfterPowerCut(ReadOnlySpan<byte> image)
    {
        string? bad = ApplyHistory.CheckLegal(image);
        if (bad is not null)
        {
            Fail($"I4: after a power cut the secondary's image is no legal crash state: {bad}");
        }
    }

    /// <summary>
    /// The image's cache was resolved (a power cut, or a failed flush after which nothing is known):
    /// what it holds now is all there is, and later crash states are judged from it.
    /// </summary>
    public void RebaseHistory(ReadOnlySpan<byte> image) => ApplyHistory = new CrashHistory(image);

    /// <summary>I4 with a journal: once recovery has replayed the journal, image and VM state are exactly a committed checkpoint.</summary>
    public void RecoveredTo(long epoch, ReadOnlySpan<byte> image, VmState vm, bool midResync)
    {
        if (midResync)
        {
            return; // an image left mid-resync is no checkpoint; it may not be promoted either
        }

        if (_failbackImage is { } failback)
        {
            // Before its sync completed the old primary's image holds its own data (or a discarded copy): no checkpoint of the new primary's.
            if (_failbackSyncedAt is not { } synced || epoch < synced)
            {
                return;
            }

            if (FirstDifference(failback, image) is { } at)
            {
                Fail($"I4 (failback): after recovery to epoch {epoch} the old primary's image differs from the new primary's at byte {at}");
            }

            return;
        }

        string? difference = ExpectedDifference(epoch, image, vm);
        if (difference is not null)
        {
            Fail($"I4: after recovery to epoch {epoch}: {difference}");
        }
    }

    /// <summary>I5: output released as protected only once its epoch is durably committed on the secondary.</summary>
    public void OutputReleased(long outputId, long epoch, bool protectedByReplica, long secondaryDurableEpoch, bool primaryDegraded)
    {
        trace.Event("output", outputId, epoch);
        if (protectedByReplica && epoch > secondaryDurableEpoch)
        {
            Fail($"I5: output {outputId} of epoch {epoch} released while the secondary has durably committed only epoch {secondaryDurableEpoch}");
        }

        if (!protectedByReplica && !primaryDegraded)
        {
            Fail($"I5: output {outputId} released unprotected while replication is healthy");
        }
    }

    /// <summary>
    /// I2: the promoted node holds one checkpoint e*, last acknowledged ≤ e* ≤ last started, disk and
    /// RAM both of e*; and no output was released as protected from an epoch the failover lost.
    /// </summary>
    public void Failover(long epoch, ReadOnlySpan<byte> image, VmState vm, long primaryLastAcknowledged, long primaryLastStarted, long highestProtectedOutputEpoch)
    {
        trace.Event("failover", epoch);
        if (epoch < primaryLastAcknowledged || epoch > primaryLastStarted)
        {
            Fail($"I2: failover landed on epoch {epoch}, outside [{primaryLastAcknowledged} acknowledged, {primaryLastStarted} started]");
        }

        if (vm.Epoch != epoch)
        {
            Fail($"I2: image of epoch {epoch} but VM state of epoch {vm.Epoch}");
        }

        if (highestProtectedOutputEpoch > epoch)
        {
            Fail($"I2/I5: output of epoch {highestProtectedOutputEpoch} was released as protected, but failover kept only epoch {epoch}");
        }

        string? difference = ExpectedDifference(epoch, image, vm);
        if (difference is not null)
        {
            Fail($"I2: after failover to epoch {epoch}: {difference}");
        }
    }

    /// <summary>I6: nothing reaches a promoted node's image or VM state from the old primary.</summary>
    public void StillPromotedState(ulong imageHashAtPromotion, ReadOnlySpan<byte> imageNow)
    {
        if (GuestCheckpoint.Hash(imageNow) != imageHashAtPromotion)
        {
            Fail("I6: the promoted node's image changed after promotion without a new primary writing to it");
        }
    }

    public void BufferBound(long buffered, long bound)
    {
        if (buffered > bound)
        {
            Fail($"memory bound: the secondary holds {buffered} bytes, its bound is {bound}");
        }
    }

    /// <summary>What the secondary holds on the primary's credit never exceeds the credit it gave.</summary>
    public void CreditBound(long held, long bound)
    {
        if (held > bound)
        {
            Fail($"credit bound: the secondary holds {held} bytes on the primary's credit, which is {bound}");
        }
    }

    private string? ExpectedDifference(long epoch, ReadOnlySpan<byte> image, VmState vm)
    {
        if (vm.Epoch != epoch)
        {
            return $"VM state is of epoch {vm.Epoch}";
        }

        if (epoch == 0)
        {
            return image.SequenceEqual(_initialDisk) ? null : "no epoch committed, yet the image changed";
        }

        GuestCheckpoint? expected = guest.ExpectedAt(epoch);
        return expected is null ? $"the guest has no record of checkpoint {epoch}" : expected.Compare(image, vm.Ram, vm.CpuState);
    }
}
