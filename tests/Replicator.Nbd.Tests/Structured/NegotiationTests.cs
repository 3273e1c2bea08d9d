using Replicator.Nbd.Protocol;
using Replicator.Nbd.Tests.Support;

namespace Replicator.Nbd.Tests.Structured;

/// <summary>NBD_OPT_STRUCTURED_REPLY and the meta-context options, byte for byte where it matters.</summary>
public class NegotiationTests
{
    private const string Magic = "0003e889045565a9";

    [Fact]
    public async Task Structured_replies_are_acked_and_bring_DF_into_the_flags()
    {
        await using TestServer server = TestServer.Start(new MemoryBackend());
        (NbdTestClient client, NbdTransmissionFlags flags) = await StructuredClient.ConnectAsync(server.EndPoint, allocation: false);
        await using NbdTestClient owned = client;

        Assert.True(flags.HasFlag(NbdTransmissionFlags.SendDontFragment));
        Assert.True(flags.HasFlag(NbdTransmissionFlags.CanMultiConnection));
        await server.Log.WaitForAsync("structured replies True, base:allocation False");
    }

    [Fact]
    public async Task Structured_reply_with_data_is_invalid_and_meta_contexts_need_it_first()
    {
        await using TestServer server = TestServer.Start(new MemoryBackend());
        await using NbdTestClient client = await NbdTestClient.HandshakeAsync(server.EndPoint);

        await client.SendOptionAsync(NbdOption.StructuredReply, [1]);
        Assert.Equal((uint)NbdOptionReplyType.ErrorInvalid, (await client.ReadOptionReplyAsync()).Type);
        await client.SendOptionAsync(NbdOption.ListMetaContext, StructuredClient.MetaContextData("disk"));
        Assert.Equal((uint)NbdOptionReplyType.ErrorInvalid, (await client.ReadOptionReplyAsync()).Type);
        await client.SendOptionAsync(NbdOption.SetMetaContext, StructuredClient.MetaContextData("disk", "base:allocation"));
        OptionReply refused = await client.ReadOptionReplyAsync();
        Assert.Equal((uint)NbdOptionReplyType.ErrorInvalid, refused.Type);
        Assert.Contains("STRUCTURED_REPLY first", System.Text.Encoding.UTF8.GetString(refused.Data), StringComparison.Ordinal);

        // Without structured replies: no DF, and block status is refused with a simple reply.
        await client.SendOptionAsync(NbdOption.Go, NbdTestClient.GoData("disk"));
        List<OptionReply> replies = await client.ReadUntilFinalAsync();
        Assert.Equal((uint)NbdOptionReplyType.Ack, replies[^1].Type);
        Assert.Equal(NbdError.Invalid, (await client.RequestAsync(NbdCommand.BlockStatus, 0, 4096)).Error);
    }

    [Theory]
    [InlineData("")] // no query lists everything
    [InlineData("base:")] // a namespace lists all of it
    [InlineData("x-other:thing|base:allocation")]
    public async Task Listing_names_base_allocation_with_id_zero(string joined)
    {
        string[] queries = joined.Split('|', StringSplitOptions.RemoveEmptyEntries);
        await using TestServer server = TestServer.Start(new MemoryBackend());
        await using NbdTestClient client = await StructuredHandshakeAsync(server);

        await client.SendOptionAsync(NbdOption.ListMetaContext, StructuredClient.MetaContextData("disk", queries));

        // META_CONTEXT: id 0, "base:allocation"; then the ack.
        Assert.Equal(Hex.Golden($"{Magic} 00000009 00000004 00000013 00000000 626173653a616c6c6f636174696f6e"), Hex.Of((await client.ReadOptionReplyAsync()).Raw));
        Assert.Equal(Hex.Golden($"{Magic} 00000009 00000001 00000000"), Hex.Of((await client.ReadOptionReplyAsync()).Raw));
    }

    [Theory]
    [InlineData(NbdOption.ListMetaContext, "x-other:")]
    [InlineData(NbdOption.ListMetaContext, "base:allocatio")]
    [InlineData(NbdOption.SetMetaContext, "base:")] // selecting needs the full name
    [InlineData(NbdOption.SetMetaContext, "qemu:dirty-bitmap:x")]
    public async Task Queries_that_match_nothing_are_acked_alone(NbdOption option, string query)
    {
        await using TestServer server = TestServer.Start(new MemoryBackend());
        await using NbdTestClient client = await StructuredHandshakeAsync(server);

        await client.SendOptionAsync(option, StructuredClient.MetaContextData("", query));

        Assert.Equal((uint)NbdOptionReplyType.Ack, (await client.ReadOptionReplyAsync()).Type);
    }

    [Fact]
    public async Task Setting_selects_base_allocation_with_id_one_and_a_later_set_replaces_it()
    {
        await using TestServer server = TestServer.Start(new MemoryBackend());
        await using NbdTestClient client = await StructuredHandshakeAsync(server);

        await client.SendOptionAsync(NbdOption.SetMetaContext, StructuredClient.MetaContextData("disk", "base:allocation"));
        Assert.Equal(Hex.Golden($"{Magic} 0000000a 00000004 00000013 00000001 626173653a616c6c6f636174696f6e"), Hex.Of((await client.ReadOptionReplyAsync()).Raw));
        Assert.Equal((uint)NbdOptionReplyType.Ack, (await client.ReadOptionReplyAsync()).Type);

        // An empty selection replaces it: block status is then refused.
        await client.SendOptionAsync(NbdOption.SetMetaContext, StructuredClient.MetaContextData("disk"));
        Assert.Equal((uint)NbdOptionReplyType.Ack, (await client.ReadOptionReplyAsync()).Type);
        await client.SendOptionAsync(NbdOption.Go, NbdTestClient.GoData("disk"));
        Assert.Equal((uint)NbdOptionReplyType.Ack, (await client.ReadUntilFinalAsync())[^1].Type);

        StructuredChunk refused = Assert.Single(await client.StructuredRequestAsync(NbdCommand.BlockStatus, 0, 4096));
        Assert.Equal(NbdReplyChunkType.Error, refused.Type);
        Assert.Equal(NbdError.Invalid, refused.Error);
        Assert.Contains("base:allocation", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("00000004 6469736b 00000002 0000000f 626173653a616c6c6f636174696f6e")] // two queries announced, one sent
    [InlineData("00000004 6469736b 00000001 0000000f 626173653a616c6c6f636174696f6e ff")] // a byte after the queries
    [InlineData("00000040 6469736b 00000000")] // the name runs past the data
    [InlineData("00000004 6469736b 000000")] // no room for the count
    [InlineData("00000000 00000001 00000002 6100")] // a query with a NUL
    public async Task Malformed_meta_context_data_is_invalid_and_negotiation_goes_on(string hex)
    {
        await using TestServer server = TestServer.Start(new MemoryBackend());
        await using NbdTestClient client = await StructuredHandshakeAsync(server);

        await client.SendOptionAsync(NbdOption.SetMetaContext, Convert.FromHexString(Hex.Golden(hex)));

        Assert.Equal((uint)NbdOptionReplyType.ErrorInvalid, (await client.ReadOptionReplyAsync()).Type);
        await client.SendOptionAsync(NbdOption.Go, NbdTestClient.GoData("disk"));
        Assert.Equal((uint)NbdOptionReplyType.Ack, (await client.ReadUntilFinalAsync())[^1].Type);
    }

    [Fact]
    public async Task Meta_contexts_of_another_export_are_unknown()
    {
        await using TestServer server = TestServer.Start(new MemoryBackend(), exportName: "disk");
        await using NbdTestClient client = await StructuredHandshakeAsync(server);

        await client.SendOptionAsync(NbdOption.SetMetaContext, StructuredClient.MetaContextData("other", "base:allocation"));

        OptionReply refused = await client.ReadOptionReplyAsync();
        Assert.Equal((uint)NbdOptionReplyType.ErrorUnknown, refused.Type);
        Assert.Contains("other", System.Text.Encoding.UTF8.GetString(refused.Data), StringComparison.Ordinal);
    }

    private static async Task<NbdTestClient> StructuredHandshakeAsync(TestServer server)
    {
        NbdTestClient client = await NbdTestClient.HandshakeAsync(server.EndPoint);
        await client.SendOptionAsync(NbdOption.StructuredReply, []);
        Assert.Equal(Hex.Golden($"{Magic} 00000008 00000001 00000000"), Hex.Of((await client.ReadOptionReplyAsync()).Raw));
        return client;
    }
}
