using MessagePack;

namespace Replicator.Protocol.Messages;

/// <summary>The primary's first frame: protocol version, the identity of the image pair it protects, and the data generations its image holds.</summary>
[MessagePackObject]
public sealed partial class HelloMessage
{
    [Key(0)]
    public int ProtocolVersion { get; set; }

    [Key(1)]
    public PairIdentity Identity { get; set; } = new();

    [Key(2)]
    public Generations.DataGenerations Generations { get; set; } = Replicator.Protocol.Generations.DataGenerations.None;

    /// <summary>
    /// The operator vouched (--skip-initial-sync) that a blank secondary's image already equals this
    /// primary's: such a secondary takes the primary's generations with its first epoch, and nothing is copied.
    /// </summary>
    [Key(3)]
    public bool VouchesBlankSecondaryEqual { get; set; }

    /// <summary>How the primary would send checkpoint pages (<see cref="Pages.PageTerms"/>): the welcome says what the link uses.</summary>
    [Key(4)]
    public Pages.PageEncoding PageEncoding { get; set; }

    /// <summary>The page cache the primary would keep for the link, in bytes: the most the welcome may answer.</summary>
    [Key(5)]
    public long PageCacheBytes { get; set; }

    [IgnoreMember]
    public Pages.PageTerms PageTerms => new(PageEncoding, PageCacheBytes);
}
