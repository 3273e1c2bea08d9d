namespace Replicator.Protocol.Messages;

/// <summary>The checks both sides make on the other's identity before anything else crosses the link.</summary>
public static class Handshake
{
    /// <summary>
    /// 7: checkpoint pages encoded (the hello's offer, the welcome's terms, the checkpoint's page encoding).
    /// 6: a former primary's writes in the welcome (failback).
    /// 5: online verify (verify records, the VerifyResult frame).
    /// 4: data generations in the hello, the welcome and the resync start, in place of the identity's failover counter.
    /// 3: roles as <see cref="NodeRole"/> numbers and the largest request in the pair identity.
    /// 2: resync (the ResyncStart frame, the checkpoint's resync marks, Welcome's role, Error's fence).
    /// </summary>
    public const int ProtocolVersion = 7;

    /// <summary>
    /// The secondary's check of a primary's hello: may a peer claiming <paramref name="peer"/>
    /// (speaking <paramref name="peerVersion"/>) replicate into this node's <paramref name="local"/>
    /// identity, with the data generations it sent? Whose data is valid is then the
    /// <see cref="Generations.GenerationTable"/>'s to say.
    /// </summary>
    public static HandshakeVerdict Check(int peerVersion, PairIdentity? peer, PairIdentity local, Generations.DataGenerations? peerGenerations)
    {
        ArgumentNullException.ThrowIfNull(local);
        string? incompatible = CheckCompatible(peerVersion, peer, local) ?? CheckGenerations(peerGenerations);
        return incompatible is null ? HandshakeVerdict.Accepted : HandshakeVerdict.Incompatible(incompatible);
    }

    /// <summary>
    /// The primary's check of a secondary's welcome: the same identity checks, and only a node that
    /// follows is ever written to (I6): a promoted node fences the primary.
    /// </summary>
    public static HandshakeVerdict CheckWelcome(WelcomeMessage welcome, PairIdentity local, Pages.PageTerms offered)
    {
        ArgumentNullException.ThrowIfNull(welcome);
        ArgumentNullException.ThrowIfNull(local);
        if (CheckCompatible(welcome.ProtocolVersion, welcome.Identity, local) is { } incompatible)
        {
            return HandshakeVerdict.Incompatible(incompatible);
        }

        if (welcome.PageTerms.ProblemAsAnswerTo(offered) is { } pages)
        {
            return HandshakeVerdict.Incompatible(pages);
        }

        if (CheckGenerations(welcome.Generations) is { } malformed)
        {
            return HandshakeVerdict.Incompatible(malformed);
        }

        if (welcome.FormerPrimaryWrites?.Problem(local.ImageBytes) is { } writes)
        {
            return HandshakeVerdict.Incompatible($"the peer sent {writes}");
        }

        return welcome.Role != NodeRole.Secondary
            ? HandshakeVerdict.Fenced($"it is a {welcome.Role.ToString().ToLowerInvariant()} holding {welcome.Generations}: it was promoted and follows no primary")
            : HandshakeVerdict.Accepted;
    }

    private static string? CheckGenerations(Generations.DataGenerations? generations) =>
        generations is null ? "the peer sent no data generations"
        : generations.Problem() is { } problem ? $"the peer sent {problem}"
        : null;

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
