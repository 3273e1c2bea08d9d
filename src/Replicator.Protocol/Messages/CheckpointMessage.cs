using MessagePack;
using Replicator.Core.Epochs;
using Replicator.Core.Vm;
using Replicator.Protocol.Pages;

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

    /// <summary>
    /// The pages' contents, in the order of <see cref="PageIndexes"/>: an array of bin on the wire
    /// (<see cref="PageDataFormatter"/>), each page as it is, or encoded as <see cref="PageEncoding"/> says.
    /// </summary>
    [Key(7)]
    [MessagePackFormatter(typeof(PageDataFormatter))]
    public ReadOnlyMemory<byte>[] PageData { get; set; } = [];

    [Key(8)]
    public bool StartsResync { get; set; }

    [Key(9)]
    public bool ResyncPending { get; set; }

    /// <summary>How <see cref="PageData"/> is encoded: <see cref="PageEncoding.None"/> (each page as it is) unless the link agreed on another.</summary>
    [Key(10)]
    public PageEncoding PageEncoding { get; set; }

    /// <summary>
    /// With encoded pages: this checkpoint's place among the link's encoded ones (1, 2, ...). Each is
    /// decoded against what the ones before it left cached, so the secondary takes them in this
    /// order only, as the link (TCP) delivers them.
    /// </summary>
    [Key(11)]
    public long PageSequence { get; set; }

    /// <summary>
    /// The checkpoint for the wire, its pages encoded by the link's <paramref name="pages"/> encoder
    /// (null: as they are). An encoded message lends the encoder's memory: send it before the next checkpoint.
    /// </summary>
    public static CheckpointMessage From(CheckpointRecord checkpoint, CheckpointPageEncoder? pages = null)
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
            PageData = pages is null ? checkpoint.Snapshot.Pages.Select(p => p.Data).ToArray() : pages.Encode(checkpoint.Snapshot.Pages),
            PageEncoding = pages?.Encoding ?? PageEncoding.None,
            PageSequence = pages?.Checkpoints ?? 0,
            StartsResync = checkpoint.StartsResync,
            ResyncPending = checkpoint.ResyncPending,
        };
    }

    /// <summary>
    /// Back to the core's record, its pages decoded by the link's <paramref name="pages"/> decoder if
    /// they are encoded; a malformed message, or pages encoded in a way the link did not agree on, is a
    /// protocol violation.
    /// </summary>
    public CheckpointRecord ToRecord(CheckpointPageDecoder? pages = null)
    {
        if (CpuState is null || PageIndexes is null || PageData is null)
        {
            throw new Framing.ProtocolViolationException($"checkpoint {Epoch}: a field is missing");
        }

        if (PageIndexes.Length != PageData.Length)
        {
            throw new Framing.ProtocolViolationException($"checkpoint {Epoch}: {PageIndexes.Length} page indexes but {PageData.Length} pages");
        }

        if (PageEncoding != (pages?.Encoding ?? PageEncoding.None))
        {
            throw new Framing.ProtocolViolationException($"checkpoint {Epoch}: pages encoded as {PageEncoding} on a link that agreed on {pages?.Encoding ?? PageEncoding.None}");
        }

        VmPage[] decoded;
        if (pages is not null)
        {
            decoded = pages.Decode(Epoch, PageSequence, PageIndexes, PageData);
        }
        else
        {
            decoded = new VmPage[PageIndexes.Length];
            for (int i = 0; i < decoded.Length; i++)
            {
                decoded[i] = new VmPage(PageIndexes[i], PageData[i]);
            }
        }

        return new CheckpointRecord(Epoch, FirstSequence, LastSequence, Digest, new VmSnapshot(Epoch, CpuState, decoded), SnapshotDigest)
        {
            StartsResync = StartsResync,
            ResyncPending = ResyncPending,
        };
    }
}
