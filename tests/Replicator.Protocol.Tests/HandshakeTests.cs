using Replicator.Protocol.Messages;

namespace Replicator.Protocol.Tests;

public class HandshakeTests
{
    private static PairIdentity Local() => new() { PairId = "pair-a", ImageBytes = 1 << 30, BlockSize = 4096, Generation = 3 };

    [Fact]
    public void The_same_pair_is_accepted_and_a_newer_generation_too()
    {
        Assert.Null(Handshake.Check(Handshake.ProtocolVersion, Local(), Local()));
        PairIdentity newer = Local();
        newer.Generation = 4;
        Assert.Null(Handshake.Check(Handshake.ProtocolVersion, newer, Local()));
    }

    [Theory]
    [InlineData("version", "protocol version 99 is not supported")]
    [InlineData("pair", "wrong pair")]
    [InlineData("size", "image size differs")]
    [InlineData("block", "block size differs")]
    [InlineData("generation", "stale generation")]
    public void A_mismatch_is_refused_with_a_clear_reason(string what, string reason)
    {
        PairIdentity peer = Local();
        int version = Handshake.ProtocolVersion;
        switch (what)
        {
            case "version": version = 99; break;
            case "pair": peer.PairId = "pair-b"; break;
            case "size": peer.ImageBytes += 4096; break;
            case "block": peer.BlockSize = 512; break;
            case "generation": peer.Generation = 2; break;
        }

        Assert.Contains(reason, Handshake.Check(version, peer, Local()), StringComparison.Ordinal);
    }
}
