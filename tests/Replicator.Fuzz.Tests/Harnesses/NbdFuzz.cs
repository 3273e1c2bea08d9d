using System.Buffers.Binary;
using CsCheck;
using Replicator.Fuzz.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Replicator.Fuzz.Tests.Harnesses;

/// <summary>
/// The NBD server's negotiation and request parsing, driven through the real server on a loopback
/// port (its connection code is internal: the public server is the way in). One connection per
/// input; the server must answer as the protocol says (<see cref="NbdReplyModel"/>), close or go on
/// refusing, never fail a connection unexpectedly, never call its backend outside the export, and
/// never hang (each input is bounded by the hang limit); after the run it still serves a good client.
/// </summary>
public class NbdFuzz(ITestOutputHelper output)
{
    public const long SmokeInputs = 3_000;

    /// <summary>Byte strings of the protocol worth splicing in: the magics, an option header claiming a huge length, requests.</summary>
    private static readonly byte[][] Tokens =
    [
        BitConverter.GetBytes(BinaryPrimitives.ReverseEndianness(NbdWire.OptionMagic)),
        BitConverter.GetBytes(BinaryPrimitives.ReverseEndianness(NbdWire.RequestMagic)),
        [.. BitConverter.GetBytes(BinaryPrimitives.ReverseEndianness(NbdWire.OptionMagic)), 0, 0, 0, 7, 0x7f, 0xff, 0xff, 0xff],
        [.. BitConverter.GetBytes(BinaryPrimitives.ReverseEndianness(NbdWire.OptionMagic)), 0, 0, 0, 6, 0, 1, 0, 0],
        NbdWire.Option(NbdWire.OptGo, NbdWire.InfoData("disk", NbdWire.InfoName, NbdWire.InfoDescription)),
        NbdWire.Option(NbdWire.OptList, []),
        NbdWire.Option(NbdWire.OptExportName, "disk"u8),
        NbdWire.Option(NbdWire.OptStructuredReply, []),
        NbdWire.Option(NbdWire.OptSetMetaContext, NbdWire.MetaContextData("disk", "base:allocation")),
        NbdWire.Option(NbdWire.OptListMetaContext, NbdWire.MetaContextData("", "base:")),
        NbdWire.Request(NbdWire.FlagRequestOne, NbdWire.CmdBlockStatus, 11, 0, 1 << 20),
        NbdWire.Request(NbdWire.FlagDontFragment, NbdWire.CmdRead, 12, 4096, 16384),
        NbdWire.Request(0, NbdWire.CmdWrite, 7, 0, 0x01ff_fe00),
        NbdWire.Request(0, NbdWire.CmdWrite, 7, 0, 0xffff_fe00),
        NbdWire.Request(0, NbdWire.CmdRead, 8, 0xffff_ffff_ffff_fe00, 512),
        NbdWire.Request(0, NbdWire.CmdWriteZeroes, 9, 512, 0xffff_fe00),
        NbdWire.Request(0, NbdWire.CmdDisconnect, 10, 0, 0),
    ];

    private static Gen<byte[]> Negotiations() =>
        Infrastructure.Inputs.From(
            Corpus.Bytes(CorpusGenerator.NbdNegotiation),
            new InputFormat { Fields = NbdWire.NegotiationFields, Tokens = Tokens, MaxRandomBytes = 256, MaxBytes = 32 << 10 });

    /// <summary>Requests behind one of two fixed handshakes: NBD_OPT_GO alone (simple replies), or after structured replies and the <c>base:allocation</c> context.</summary>
    private static Gen<byte[]> Transmissions() =>
        Gen.Select(
            Infrastructure.Inputs.From(
                Corpus.Bytes(CorpusGenerator.NbdTransmission),
                new InputFormat { Fields = bytes => NbdWire.RequestFields(bytes), Tokens = Tokens, MaxRandomBytes = 256, MaxBytes = 64 << 10 }),
            Gen.Bool,
            (requests, structured) => (byte[])[.. structured ? NbdWire.StructuredGoPrefix : NbdWire.GoPrefix, .. requests]);

    [Fact]
    public async Task Seeds_are_answered_as_the_protocol_says()
    {
        await using var harness = new NbdServerHarness();
        foreach (CorpusEntry entry in Corpus.Load(CorpusGenerator.NbdNegotiation))
        {
            string outcome = await harness.RunAsync(entry.Bytes);
            Assert.True(outcome.StartsWith("transmission", StringComparison.Ordinal) || entry.Name.Contains("abort", StringComparison.Ordinal), $"{entry.Name}: {outcome}");
        }

        foreach (CorpusEntry entry in Corpus.Load(CorpusGenerator.NbdTransmission))
        {
            Assert.StartsWith("transmission", await harness.RunAsync([.. NbdWire.GoPrefix, .. entry.Bytes]), StringComparison.Ordinal);
            Assert.StartsWith("transmission", await harness.RunAsync([.. NbdWire.StructuredGoPrefix, .. entry.Bytes]), StringComparison.Ordinal);
        }

        await harness.ExpectAliveAndStopAsync();
    }

    [Fact]
    public async Task Any_client_handshake_is_answered_as_the_protocol_says_or_closed()
    {
        await using var harness = new NbdServerHarness();
        await FuzzRunner.RunAsync("nbd-negotiation", Negotiations(), harness.RunAsync, bytes => Hex.Of(bytes), SmokeInputs, output);
        await harness.ExpectAliveAndStopAsync();
    }

    [Fact]
    public async Task Any_request_stream_is_answered_as_the_protocol_says_or_closed()
    {
        await using var harness = new NbdServerHarness();
        await FuzzRunner.RunAsync("nbd-requests", Transmissions(), harness.RunAsync, bytes => Hex.Of(bytes), SmokeInputs, output);
        await harness.ExpectAliveAndStopAsync();
    }
}
