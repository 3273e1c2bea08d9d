using Replicator.Core.Epochs;
using Replicator.Core.Guest;
using Replicator.Core.Secondary;
using Replicator.Hosts.Storage;

namespace Replicator.InMemory;

/// <summary>The invariants as the pair observes them, each against the guest's own record.</summary>
public sealed partial class InMemoryPair
{
    // One buffer for the run: a disk-sized copy per commit would land on the large object heap.
    private byte[]? _committedDisk;

    /// <summary>I1: what the secondary now holds as committed equals the primary's state at the checkpoint.</summary>
    private void CheckCommitted(CheckpointRecord checkpoint)
    {
        if (checkpoint.ResyncPending)
        {
            return; // mid-resync: some regions are newer than others, no checkpoint at all
        }

        _committedDisk ??= new byte[SecondaryImage.Size];
        SecondaryImage.Contents.CopyTo(_committedDisk);
        Secondary.OverlayCommitted(0, _committedDisk);
        Core.Vm.VmState vm = _secondary.CommittedVm;
        long epoch = checkpoint.Epoch;
        GuestCheckpoint? expected = Guest.ExpectedAt(epoch);
        string? difference = vm.Epoch != epoch ? $"committed VM state is of epoch {vm.Epoch}"
            : expected is null ? "the guest has no record of it"
            : expected.Compare(_committedDisk, vm.Ram, vm.CpuState);
        Record(difference is null ? null : $"I1: at commit of epoch {epoch}: {difference}");
    }

    /// <summary>I1 (and I7 after a resync): the image, RAM image and state record, once an epoch is applied, equal the primary at that checkpoint.</summary>
    private void CheckApplied(long epoch)
    {
        SecondaryStore store = SecondaryHost.Store!;
        if (epoch < _secondary.CheckAppliedFrom || store.AppliedMidResync)
        {
            return;
        }

        ReadOnlySpan<byte> ram = SecondaryState.Peek(SecondaryStore.RamFileName)!.Contents;
        GuestCheckpoint? expected = Guest.ExpectedAt(epoch);
        string? difference = expected is null ? "the guest has no record of it" : expected.Compare(SecondaryImage.Contents, ram, store.AppliedCpuState);
        Record(difference is null ? null : $"I1: the secondary applied epoch {epoch}: {difference}");
    }

    /// <summary>I5: output leaves only once the epoch that produced it is committed on the secondary, or, unprotected, once replication is degraded.</summary>
    private void CheckOutputRelease(long outputId, long epoch, bool protectedByReplica)
    {
        if (protectedByReplica && epoch > Secondary.LastCommittedEpoch)
        {
            Violations.Add($"I5: output {outputId} of epoch {epoch} released while the secondary has committed only {Secondary.LastCommittedEpoch}");
        }

        if (!protectedByReplica && !Primary.IsDegraded)
        {
            Violations.Add($"I5: output {outputId} released unprotected while replication is healthy");
        }
    }

    /// <summary>The memory bound, after every frame the secondary took.</summary>
    private void CheckBufferBound(SecondaryEngine secondary)
    {
        if (secondary.BufferedBytes > secondary.MemoryBoundBytes)
        {
            Violations.Add($"memory bound: secondary holds {secondary.BufferedBytes} bytes, bound {secondary.MemoryBoundBytes}");
        }

        if (secondary.CreditHeldBytes > secondary.BufferCapacityBytes)
        {
            Violations.Add($"credit bound: secondary holds {secondary.CreditHeldBytes} bytes on the primary's credit, bound {secondary.BufferCapacityBytes}");
        }
    }

    /// <summary>Null when the outcome obeys I2: one checkpoint e*, last acknowledged ≤ e* ≤ last started, disk and RAM both of e*.</summary>
    public string? VerifyFailover(FailoverOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        if (outcome.Epoch < outcome.PrimaryLastAcknowledged || outcome.Epoch > outcome.PrimaryLastStarted)
        {
            return $"I2: failover landed on epoch {outcome.Epoch}, outside [{outcome.PrimaryLastAcknowledged}, {outcome.PrimaryLastStarted}]";
        }

        if (outcome.VmState.Epoch != outcome.Epoch)
        {
            return $"I2: image of epoch {outcome.Epoch} but VM state of epoch {outcome.VmState.Epoch}";
        }

        if (outcome.Epoch == 0)
        {
            return outcome.Image.AsSpan().SequenceEqual(_initialDisk) ? null : "I2: no epoch committed, yet the image changed";
        }

        GuestCheckpoint? expected = Guest.ExpectedAt(outcome.Epoch);
        string? difference = expected is null ? $"no record of checkpoint {outcome.Epoch}" : expected.Compare(outcome.Image, outcome.VmState.Ram, outcome.VmState.CpuState);
        return difference is null ? null : $"I2: {difference}";
    }

    /// <summary>A check's verdict: a violation, or one more epoch found equal.</summary>
    private void Record(string? violation)
    {
        if (violation is null)
        {
            CheckedEpochs++;
        }
        else
        {
            Violations.Add(violation);
        }
    }
}
