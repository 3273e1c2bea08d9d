namespace Replicator.Protocol.Messages;

/// <summary>The checks both sides make on the other's identity before anything else crosses the link.</summary>
public static class Handshake
{
    /// <summary>2: resync (the ResyncStart frame, the checkpoint's resync marks, Welcome's role, Error's fence).</summary>
    public const int ProtocolVersion = 2;

    /// <summary>
    /// Null when a peer claiming <paramref name="peer"/> (speaking <paramref name="peerVersion"/>)
    /// may replicate with this node's <paramref name="local"/> identity; otherwise the reason it may not.
    /// </summary>
    public static string? Check(int peerVersion, PairIdentity peer, PairIdentity local)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentNullException.ThrowIfNull(local);
        if (peerVersion != ProtocolVersion)
        {
            return $"protocol version {peerVersion} is not supported (this node speaks {ProtocolVersion})";
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

        if (peer.Generation < local.Generation)
        {
            return $"stale generation: the peer is at generation {peer.Generation}, this node already at {local.Generation} (a failover happened since)";
        }

        return null;
    }
}
