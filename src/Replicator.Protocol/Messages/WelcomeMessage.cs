using MessagePack;

namespace Replicator.Protocol.Messages;

/// <summary>The secondary's answer to an accepted hello: its buffer bound (the primary's credit) and how far it got.</summary>
[MessagePackObject]
public sealed partial class WelcomeMessage
{
    [Key(0)]
    public int ProtocolVersion { get; set; }

    [Key(1)]
    public PairIdentity Identity { get; set; } = new();

    [Key(2)]
    public long BufferCapacityBytes { get; set; }

    /// <summary>The last epoch committed on the secondary: the checkpoint its image holds.</summary>
    [Key(3)]
    public long LastCommittedEpoch { get; set; }

    [Key(4)]
    public long LastCommittedSequence { get; set; }

    /// <summary>What the node is: a primary resyncs into nothing but a <see cref="NodeRole.Secondary"/> (I6).</summary>
    [Key(5)]
    public NodeRole Role { get; set; }

    /// <summary>The data generations the secondary's image holds: with the hello's, what <see cref="Generations.GenerationTable"/> decides from.</summary>
    [Key(6)]
    public Generations.DataGenerations Generations { get; set; } = Replicator.Protocol.Generations.DataGenerations.None;

    /// <summary>
    /// The highest epoch, and sequence number, this node has sealed or a resync start announced to
    /// it — past what it committed when an earlier stream was cut short. A primary that does not know
    /// how far its own stream went (restarted after a crash) starts its new one past these.
    /// </summary>
    [Key(7)]
    public long SeenEpoch { get; set; }

    [Key(8)]
    public long SeenSequence { get; set; }

    /// <summary>
    /// Set only by a node that was a primary and came back as a secondary, until a sync makes it
    /// equal to its new primary: what its own image may hold that the new primary lacks.
    /// </summary>
    [Key(9)]
    public FormerPrimaryWrites? FormerPrimaryWrites { get; set; }

    /// <summary>How the link carries checkpoint pages, agreed from the hello's offer (<see cref="Pages.PageTerms.Agree"/>).</summary>
    [Key(10)]
    public Pages.PageEncoding PageEncoding { get; set; }

    /// <summary>The page cache both ends keep for the link, in bytes.</summary>
    [Key(11)]
    public long PageCacheBytes { get; set; }

    [IgnoreMember]
    public Pages.PageTerms PageTerms => new(PageEncoding, PageCacheBytes);
}
