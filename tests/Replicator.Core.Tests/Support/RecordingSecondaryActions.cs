using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Vm;

namespace Replicator.Core.Tests.Support;

/// <summary>Keeps every action the secondary asked for, in order, as short strings and typed lists.</summary>
internal sealed class RecordingSecondaryActions : ISecondaryActions
{
    public List<string> Log { get; } = new();

    public List<EpochLog> Persisted { get; } = new();

    public List<long> Acks { get; } = new();

    public List<(long Epoch, string Reason)> Rejections { get; } = new();

    public List<MirrorRecord> ImageWrites { get; } = new();

    public long CreditReturned { get; private set; }

    public List<long> Promotions { get; } = new();

    public List<CommittedOverlay> Takeovers { get; } = new();

    /// <summary>The records handed to be written ahead of their commit, with their log's incarnation (kept out of <see cref="Log"/>).</summary>
    public List<(long Incarnation, long Epoch, long Sequence)> Staged { get; } = new();

    public void StageRecord(EpochLog epoch, in MirrorRecord record, ulong recordHash) => Staged.Add((epoch.Incarnation, record.Epoch, record.Sequence));

    public void PersistEpoch(EpochLog epoch)
    {
        Persisted.Add(epoch);
        Log.Add($"persist {epoch.Epoch}");
    }

    public void AcknowledgeEpoch(long epoch)
    {
        Acks.Add(epoch);
        Log.Add($"ack {epoch}");
    }

    public void WriteImage(in MirrorRecord record)
    {
        ImageWrites.Add(record);
        Log.Add($"write {record.Sequence}{(record.Request.Fua ? " fua" : string.Empty)}");
    }

    public void FlushImage() => Log.Add("flush");

    public void ApplyVmSnapshot(VmSnapshot snapshot)
    {
        AppliedSnapshots.Add(snapshot);
        Log.Add($"vm {snapshot.Epoch}");
    }

    /// <summary>The VM snapshots applied, in order: one per write-back batch.</summary>
    public List<VmSnapshot> AppliedSnapshots { get; } = new();

    /// <summary>The epoch the last <see cref="MarkApplied"/> named: where the write-back batch asked for ends.</summary>
    public long ApplyingThrough { get; private set; }

    public void MarkApplied(long epoch, long lastSequence)
    {
        ApplyingThrough = epoch;
        Log.Add($"applied {epoch}@{lastSequence}");
    }

    public void ReturnCredit(long bytes)
    {
        CreditReturned += bytes;
        Log.Add($"credit {bytes}");
    }

    public void RejectEpoch(long epoch, string reason)
    {
        Rejections.Add((epoch, reason));
        Log.Add($"reject {epoch}");
    }

    public void TakingOver(long epoch, CommittedOverlay overlay)
    {
        Takeovers.Add(overlay);
        Log.Add($"taking over {epoch}");
    }

    public void Promoted(long epoch)
    {
        Promotions.Add(epoch);
        Log.Add($"promoted {epoch}");
    }
}
