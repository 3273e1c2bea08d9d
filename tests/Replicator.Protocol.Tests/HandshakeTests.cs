using Replicator.Protocol.Messages;

namespace Replicator.Protocol.Tests;

public class HandshakeTests
{
    private static PairIdentity Local() => new() { PairId = "pair-a", ImageBytes = 1 << 30, BlockSize = 4096, MaxRequestBytes = 1 << 20, Generation = 3 };

    private static WelcomeMessage Welcome(PairIdentity identity, NodeRole role = NodeRole.Secondary) =>
        new() { ProtocolVersion = Handshake.ProtocolVersion, Identity = identity, Role = role };

    [Fact]
    public void The_same_pair_is_accepted_and_a_newer_generation_too()
    {
        Assert.Equal(HandshakeVerdict.Accepted, Handshake.Check(Handshake.ProtocolVersion, Local(), Local()));
        PairIdentity newer = Local();
        newer.Generation = 4;
        Assert.Equal(HandshakeVerdict.Accepted, Handshake.Check(Handshake.ProtocolVersion, newer, Local()));
    }

    [Theory]
    [InlineData("version", HandshakeOutcome.Incompatible, "protocol version 99 is not supported")]
    [InlineData("pair", HandshakeOutcome.Incompatible, "wrong pair")]
    [InlineData("size", HandshakeOutcome.Incompatible, "image size differs")]
    [InlineData("block", HandshakeOutcome.Incompatible, "block size differs")]
    [InlineData("request", HandshakeOutcome.Incompatible, "largest request differs")]
    [InlineData("identity", HandshakeOutcome.Incompatible, "no pair identity")]
    [InlineData("generation", HandshakeOutcome.Fenced, "stale generation")]
    public void A_mismatched_hello_is_refused_with_its_outcome_and_a_clear_reason(string what, HandshakeOutcome outcome, string reason)
    {
        PairIdentity peer = Local();
        int version = Handshake.ProtocolVersion;
        switch (what)
        {
            case "version": version = 99; break;
            case "pair": peer.PairId = "pair-b"; break;
            case "size": peer.ImageBytes += 4096; break;
            case "block": peer.BlockSize = 512; break;
            case "request": peer.MaxRequestBytes /= 2; break;
            case "identity": peer.PairId = null!; break;
            case "generation": peer.Generation = 2; break;
        }

        HandshakeVerdict verdict = Handshake.Check(version, peer, Local());

        Assert.Equal(outcome, verdict.Outcome);
        Assert.Contains(reason, verdict.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_welcome_from_a_secondary_of_the_same_generation_is_accepted()
    {
        Assert.Equal(HandshakeVerdict.Accepted, Handshake.CheckWelcome(Welcome(Local()), Local()));
    }

    [Theory]
    [InlineData(NodeRole.Primary, 0, HandshakeOutcome.Fenced)]
    [InlineData(NodeRole.Unknown, 0, HandshakeOutcome.Fenced)]
    [InlineData(NodeRole.Secondary, 1, HandshakeOutcome.Fenced)]
    [InlineData(NodeRole.Secondary, -1, HandshakeOutcome.Incompatible)]
    public void A_welcome_from_a_promoted_or_newer_node_fences_the_primary(NodeRole role, int generationDelta, HandshakeOutcome outcome)
    {
        PairIdentity peer = Local();
        peer.Generation += generationDelta;

        HandshakeVerdict verdict = Handshake.CheckWelcome(Welcome(peer, role), Local());

        Assert.Equal(outcome, verdict.Outcome);
        Assert.NotNull(verdict.Reason);
    }
}
