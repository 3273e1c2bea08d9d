using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;
using Replicator.Protocol.Pages;

namespace Replicator.Protocol.Tests;

public class HandshakeTests
{
    private static readonly DataGenerations Generations = DataGenerations.None.Begin(GenerationMark.Draw(GenerationCause.Created, DateTimeOffset.UnixEpoch));

    private static PairIdentity Local() => new() { PairId = "pair-a", ImageBytes = 1 << 30, BlockSize = 4096, MaxRequestBytes = 1 << 20 };

    private static WelcomeMessage Welcome(PairIdentity identity, NodeRole role = NodeRole.Secondary) =>
        new() { ProtocolVersion = Handshake.ProtocolVersion, Identity = identity, Role = role, Generations = Generations };

    [Fact]
    public void The_same_pair_is_accepted_whatever_its_data_generations_say()
    {
        // Whose data is valid is the generation table's to decide, not the identity check's.
        Assert.Equal(HandshakeVerdict.Accepted, Handshake.Check(Handshake.ProtocolVersion, Local(), Local(), Generations));
        Assert.Equal(HandshakeVerdict.Accepted, Handshake.Check(Handshake.ProtocolVersion, Local(), Local(), DataGenerations.None));
    }

    [Theory]
    [InlineData("version", HandshakeOutcome.Incompatible, "protocol version 99 is not supported")]
    [InlineData("pair", HandshakeOutcome.Incompatible, "wrong pair")]
    [InlineData("size", HandshakeOutcome.Incompatible, "image size differs")]
    [InlineData("block", HandshakeOutcome.Incompatible, "block size differs")]
    [InlineData("request", HandshakeOutcome.Incompatible, "largest request differs")]
    [InlineData("identity", HandshakeOutcome.Incompatible, "no pair identity")]
    [InlineData("no-generations", HandshakeOutcome.Incompatible, "no data generations")]
    [InlineData("empty-generation", HandshakeOutcome.Incompatible, "a current data generation with id 0")]
    public void A_mismatched_hello_is_refused_with_its_outcome_and_a_clear_reason(string what, HandshakeOutcome outcome, string reason)
    {
        PairIdentity peer = Local();
        DataGenerations? generations = Generations;
        int version = Handshake.ProtocolVersion;
        switch (what)
        {
            case "version": version = 99; break;
            case "pair": peer.PairId = "pair-b"; break;
            case "size": peer.ImageBytes += 4096; break;
            case "block": peer.BlockSize = 512; break;
            case "request": peer.MaxRequestBytes /= 2; break;
            case "identity": peer.PairId = null!; break;
            case "no-generations": generations = null; break;
            case "empty-generation": generations = new DataGenerations { Current = new GenerationMark() }; break;
        }

        HandshakeVerdict verdict = Handshake.Check(version, peer, Local(), generations);

        Assert.Equal(outcome, verdict.Outcome);
        Assert.Contains(reason, verdict.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_welcome_from_a_secondary_of_the_same_generation_is_accepted()
    {
        Assert.Equal(HandshakeVerdict.Accepted, Handshake.CheckWelcome(Welcome(Local()), Local(), PageTerms.Default));
    }

    [Theory]
    [InlineData(NodeRole.Primary)]
    [InlineData(NodeRole.Unknown)]
    public void A_welcome_from_a_node_that_does_not_follow_fences_the_primary(NodeRole role)
    {
        HandshakeVerdict verdict = Handshake.CheckWelcome(Welcome(Local(), role), Local(), PageTerms.Default);

        Assert.Equal(HandshakeOutcome.Fenced, verdict.Outcome);
        Assert.Contains("promoted", verdict.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_welcome_with_malformed_data_generations_is_refused()
    {
        WelcomeMessage welcome = Welcome(Local());
        welcome.Generations = new DataGenerations { Current = GenerationMark.Draw(GenerationCause.Created, DateTimeOffset.UnixEpoch), History = [new GenerationMark()] };

        HandshakeVerdict verdict = Handshake.CheckWelcome(welcome, Local(), PageTerms.Default);

        Assert.Equal(HandshakeOutcome.Incompatible, verdict.Outcome);
        Assert.Contains("id 0", verdict.Reason, StringComparison.Ordinal);
    }
}
