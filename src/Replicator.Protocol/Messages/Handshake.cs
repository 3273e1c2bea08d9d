namespace Replicator.Protocol.Messages;

/// <summary>The checks both sides make on the other's identity before anything else crosses the link.</summary>
public static class Handshake
{
    /// <summary>
    /// 3: roles as <see cref="NodeRole"/> numbers and the largest request in the pair identity.
    /// 2: resync (the ResyncStart frame, the checkpoint's resync marks, Welcome's role, Error's fence).
    /// </summary>
    public const int ProtocolVersion = 3;

    /// <summary>
    /// The secondary's check of a primary's hello: may a peer claiming <paramref name="peer"/>
    /// (speaking <paramref name="peerVersion"/>) replicate into this node's <paramref name="local"/> identity?
    /// A peer at an older generation is fenced: a failover happened since it last wrote here.
    /// </summary>
    public static HandshakeVerdict Check(int peerVersion, PairIdentity? peer, PairIdentity local)
    {
        ArgumentNullException.ThrowIfNull(local);
        if (CheckCompatible(peerVersion, peer, local) is { } incompatible)
        {
            return HandshakeVerdict.Incompatible(incompatible);
        }

        return peer!.Generation < local.Generation
            ? HandshakeVerdict.Fenced($"stale generation: the peer is at generation {peer.Generation}, this node already at {local.Generation} (a failover happened since)")
            : HandshakeVerdict.Accepted;
    }

    /// <summary>
    /// The primary's check of a secondary's welcome: the same identity checks, and only a secondary
    /// of this very generation is ever written to (I6): a promoted node, or one at a newer
    /// generation, fences the primary.
    /// </summary>
    public static HandshakeVerdict CheckWelcome(WelcomeMessage welcome, PairIdentity local)
    {
        ArgumentNullException.ThrowIfNull(welcome);
        ArgumentNullException.ThrowIfNull(local);
        if (CheckCompatible(welcome.ProtocolVersion, welcome.Identity, local) is { } incompatible)
        {
            return HandshakeVerdict.Incompatible(incompatible);
        }

        if (welcome.Role != NodeRole.Secondary || welcome.Identity.Generation > local.Generation)
        {
            return HandshakeVerdict.Fenced($"it is a {welcome.Role.ToString().ToLowerInvariant()} at generation {welcome.Identity.Generation}, this primary at {local.Generation}: it was promoted");
        }

        return welcome.Identity.Generation < local.Generation
            ? HandshakeVerdict.Incompatible($"stale generation: the secondary is at generation {welcome.Identity.Generation}, this primary at {local.Generation}")
            : HandshakeVerdict.Accepted;
    }

    private static string? CheckCompatible(int peerVersion, PairIdentity? peer, PairIdentity local)
    {
        if (peerVersion != ProtocolVersion)
        {
            return $"protocol version {peerVersion} is not supported (this node speaks {ProtocolVersion})";
        }

        if (peer?.PairId is null)
        {
            return "the peer sent no pair identity";
        }

        if (!string.Equals(peer.PairId, local.PairId, StringComparison.Ordinal))
        {
            return $"wrong pair: the peer protects pair '{peer.PairId}', this node pair '{local.PairId}'";
        }

        if (peer.ImageBytes != local.ImageBytes)
        {
            return $"image size differs: the peer's image is {peer.ImageBytes} bytes, this node's {local.ImageBytes}";
        }

        if (peer.BlockSize != local.BlockSize)
        {
            return $"block size differs: the peer uses {peer.BlockSize} bytes, this node {local.BlockSize}";
        }

        if (peer.MaxRequestBytes != local.MaxRequestBytes)
        {
            return $"largest request differs: the peer allows {peer.MaxRequestBytes} bytes, this node {local.MaxRequestBytes}";
        }

        return null;
    }
}
