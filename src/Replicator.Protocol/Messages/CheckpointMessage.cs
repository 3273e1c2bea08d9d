using MessagePack;
using Replicator.Core.Epochs;
using Replicator.Core.Vm;

namespace Replicator.Protocol.Messages;

/// <summary>The wire form of a <see cref="CheckpointRecord"/>: the epoch's range and digests, and the VM snapshot.</summary>
[MessagePackObject]
public sealed partial class CheckpointMessage
{
    [Key(0)]
    public long Epoch { get; set; }

    [Key(1)]
    public long FirstSequence { get; set; }

    [Key(2)]
    public long LastSequence { get; set; }

    [Key(3)]
    public ulong Digest { get; set; }

    [Key(4)]
    public ulong SnapshotDigest { get; set; }

    [Key(5)]
    public byte[] CpuState { get; set; } = [];

    [Key(6)]
    public long[] PageIndexes { get; set; } = [];

    /// <summary>The pages' contents, in the order of <see cref="PageIndexes"/>: an array of bin on the wire, decoded into one array (<see cref="PageDataFormatter"/>).</summary>
    [Key(7)]
    [MessagePackFormatter(typeof(PageDataFormatter))]
    public ReadOnlyMemory<byte>[] PageData { get; set; } = [];

    [Key(8)]
    public bool StartsResync { get; set; }

    [Key(9)]
    public bool ResyncPending { get; set; }

    public static CheckpointMessage From(CheckpointRecord checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        return new CheckpointMessage
        {
            Epoch = checkpoint.Epoch,
            FirstSequence = checkpoint.FirstSequence,
            LastSequence = checkpoint.LastSequence,
            Digest = checkpoint.Digest,
            SnapshotDigest = checkpoint.SnapshotDigest,
            CpuState = checkpoint.Snapshot.CpuState,
            PageIndexes = checkpoint.Snapshot.Pages.Select(p => p.Index).ToArray(),
            PageData = checkpoint.Snapshot.Pages.Select(p => p.Data).ToArray(),
            StartsResync = checkpoint.StartsResync,
            ResyncPending = checkpoint.ResyncPending,
        };
    }

    /// <summary>Back to the core's record; a malformed message is a protocol violation.</summary>
    public CheckpointRecord ToRecord()
    {
        if (CpuState is null || PageIndexes is null || PageData is null)
        {
            throw new Framing.ProtocolViolationException($"checkpoint {Epoch}: a field is missing");
        }

        if (PageIndexes.Length != PageData.Length)
        {
            throw new Framing.ProtocolViolationException($"checkpoint {Epoch}: {PageIndexes.Length} page indexes but {PageData.Length} pages");
        }

        var pages = new VmPage[PageIndexes.Length];
        for (int i = 0; i < pages.Length; i++)
        {
            pages[i] = new VmPage(PageIndexes[i], PageData[i]);
        }

        return new CheckpointRecord(Epoch, FirstSequence, LastSequence, Digest, new VmSnapshot(Epoch, CpuState, pages), SnapshotDigest)
        {
            StartsResync = StartsResync,
            ResyncPending = ResyncPending,
        };
    }
}
