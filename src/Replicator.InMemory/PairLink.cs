using Replicator.Hosts.Links;
using Replicator.Protocol.Framing;

namespace Replicator.InMemory;

/// <summary>
/// One connection between the pair's hosts, as the shell holds it: each direction has the daemons'
/// own frame writer (numbering and checksumming every frame) at its sending end and their frame
/// reader (cutting and checking it) at its receiving end; each end stays open until its host closed
/// it or heard it closed.
/// </summary>
internal sealed class PairLink(LinkId id, int maxBodyLength)
{
    public LinkId Id { get; } = id;

    /// <summary>Writes what the primary sends on this link.</summary>
    public FrameWriter PrimaryWriter { get; } = new();

    /// <summary>Writes what the secondary sends on this link.</summary>
    public FrameWriter SecondaryWriter { get; } = new();

    /// <summary>Cuts what reaches the primary.</summary>
    public FrameReader PrimaryReader { get; } = new(maxBodyLength);

    /// <summary>Cuts what reaches the secondary.</summary>
    public FrameReader SecondaryReader { get; } = new(maxBodyLength);

    public bool PrimaryEndOpen { get; set; } = true;

    public bool SecondaryEndOpen { get; set; } = true;
}
