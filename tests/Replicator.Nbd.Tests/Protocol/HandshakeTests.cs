using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Replicator.Nbd.Protocol;
using Replicator.Nbd.Tests.Support;

namespace Replicator.Nbd.Tests.Protocol;

/// <summary>The handshake phase, byte for byte, driven by the hand-written client.</summary>
public class HandshakeTests
{
    private const string Magic = "0003e889045565a9";

    [Fact]
    public async Task The_greeting_is_NBDMAGIC_IHAVEOPT_with_fixed_newstyle_and_no_zeroes()
    {
        await using TestServer server = TestServer.Start(new MemoryBackend());
        await using NbdTestClient client = await NbdTestClient.ConnectAsync(server.EndPoint);

        byte[] greeting = await client.ReadExactlyAsync(18);

        Assert.Equal(Hex.Golden("4e42444d41474943 49484156454f5054 0003"), Hex.Of(greeting));
    }

    [Fact]
    public async Task Go_replies_export_info_and_block_size_then_acks()
    {
        await using TestServer server = TestServer.Start(new MemoryBackend(size: 1 << 20, maxRequestBytes: 64 << 10));
        await using NbdTestClient client = await NbdTestClient.HandshakeAsync(server.EndPoint);

        await client.SendOptionAsync(NbdOption.Go, NbdTestClient.GoData("disk", NbdInfoType.BlockSize));

        // INFO_EXPORT: size 1 MiB, flags HAS_FLAGS|SEND_FLUSH|SEND_FUA|SEND_TRIM|SEND_WRITE_ZEROES|CAN_MULTI_CONN|SEND_CACHE|SEND_FAST_ZERO
        // (0x0d6d); no DF, since this client did not negotiate structured replies.
        Assert.Equal(Hex.Golden($"{Magic} 00000007 00000003 0000000c 0000 0000000000100000 0d6d"), Hex.Of((await client.ReadOptionReplyAsync()).Raw));
        // INFO_BLOCK_SIZE: minimum 512, preferred 4096, maximum = the export's maximum payload, 32 MiB by default
        // (the backend's 64 KiB calls are the server's business: it splits).
        Assert.Equal(Hex.Golden($"{Magic} 00000007 00000003 0000000e 0003 00000200 00001000 02000000"), Hex.Of((await client.ReadOptionReplyAsync()).Raw));
        Assert.Equal(Hex.Golden($"{Magic} 00000007 00000001 00000000"), Hex.Of((await client.ReadOptionReplyAsync()).Raw));

        // Transmission has begun: a read answers.
        Assert.Equal(NbdError.None, (await client.RequestAsync(NbdCommand.Read, 0, 512)).Error);
    }

    [Fact]
    public async Task Info_answers_name_and_description_when_asked_and_negotiation_goes_on()
    {
        await using TestServer server = TestServer.Start(new MemoryBackend(), exportName: "disk", description: "a test disk");
        await using NbdTestClient client = await NbdTestClient.HandshakeAsync(server.EndPoint);

        await client.SendOptionAsync(NbdOption.Info, NbdTestClient.GoData("", NbdInfoType.Name, NbdInfoType.Description, (NbdInfoType)99));
        List<OptionReply> replies = await client.ReadUntilFinalAsync();

        Assert.All(replies, reply => Assert.Equal((uint)NbdOption.Info, reply.Option));
        Assert.Equal((uint)NbdOptionReplyType.Ack, replies[^1].Type);
        Assert.Contains(replies, reply => Hex.Of(reply.Data) == Hex.Golden("0001 6469736b")); // NAME "disk", the canonical name for ""
        Assert.Contains(replies, reply => reply.Data.AsSpan(0, 2).SequenceEqual(new byte[] { 0, 2 })
            && System.Text.Encoding.UTF8.GetString(reply.Data.AsSpan(2)) == "a test disk");
        Assert.Contains(replies, reply => BinaryPrimitives.ReadUInt16BigEndian(reply.Data) == (ushort)NbdInfoType.Export);

        // INFO does not enter transmission: another option is still answered.
        await client.SendOptionAsync(NbdOption.Go, NbdTestClient.GoData("disk"));
        Assert.Equal((uint)NbdOptionReplyType.Ack, (await client.ReadUntilFinalAsync())[^1].Type);
        Assert.Equal(NbdError.None, (await client.RequestAsync(NbdCommand.Read, 0, 512)).Error);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Export_name_replies_size_and_flags_with_padding_unless_no_zeroes(bool noZeroes)
    {
        await using TestServer server = TestServer.Start(new MemoryBackend(size: 1 << 20));
        await using NbdTestClient client = await NbdTestClient.ConnectAsync(server.EndPoint);
        await client.ReadExactlyAsync(18);
        await client.SendUInt32Async((uint)(noZeroes ? NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes : NbdClientFlags.FixedNewstyle));

        await client.SendOptionAsync(NbdOption.ExportName, "disk"u8);

        byte[] reply = await client.ReadExactlyAsync(noZeroes ? 10 : 134);
        Assert.Equal(Hex.Golden("0000000000100000 0d6d") + (noZeroes ? "" : new string('0', 248)), Hex.Of(reply));
        byte[] pattern = [.. Enumerable.Repeat((byte)0x3c, 512)];
        Assert.Equal(NbdError.None, (await client.RequestAsync(NbdCommand.Write, 512, 512, payload: pattern)).Error);
        Assert.Equal(pattern, (await client.RequestAsync(NbdCommand.Read, 512, 512)).Data);
    }

    [Theory]
    [InlineData(NbdOption.StartTls)]
    [InlineData((NbdOption)11)] // NBD_OPT_EXTENDED_HEADERS
    [InlineData((NbdOption)4)]
    [InlineData((NbdOption)0xbeef)]
    public async Task Unsupported_options_are_refused_and_negotiation_goes_on(NbdOption option)
    {
        await using TestServer server = TestServer.Start(new MemoryBackend());
        await using NbdTestClient client = await NbdTestClient.HandshakeAsync(server.EndPoint);

        await client.SendOptionAsync(option, [1, 2, 3, 4, 5]);
        OptionReply refused = await client.ReadOptionReplyAsync();

        Assert.Equal((uint)option, refused.Option);
        Assert.Equal((uint)NbdOptionReplyType.ErrorUnsupported, refused.Type);
        await client.SendOptionAsync(NbdOption.Go, NbdTestClient.GoData("disk"));
        Assert.Equal((uint)NbdOptionReplyType.Ack, (await client.ReadUntilFinalAsync())[^1].Type);
    }

    [Fact]
    public async Task List_names_the_export_then_acks_and_refuses_data()
    {
        await using TestServer server = TestServer.Start(new MemoryBackend(), exportName: "disk");
        await using NbdTestClient client = await NbdTestClient.HandshakeAsync(server.EndPoint);

        await client.SendOptionAsync(NbdOption.List, []);
        Assert.Equal(Hex.Golden($"{Magic} 00000003 00000002 00000008 00000004 6469736b"), Hex.Of((await client.ReadOptionReplyAsync()).Raw));
        Assert.Equal(Hex.Golden($"{Magic} 00000003 00000001 00000000"), Hex.Of((await client.ReadOptionReplyAsync()).Raw));

        await client.SendOptionAsync(NbdOption.List, [0]);
        Assert.Equal((uint)NbdOptionReplyType.ErrorInvalid, (await client.ReadOptionReplyAsync()).Type);
    }

    [Fact]
    public async Task Abort_is_acknowledged_and_the_server_closes()
    {
        await using TestServer server = TestServer.Start(new MemoryBackend());
        await using NbdTestClient client = await NbdTestClient.HandshakeAsync(server.EndPoint);

        await client.SendOptionAsync(NbdOption.Abort, []);

        Assert.Equal(Hex.Golden($"{Magic} 00000002 00000001 00000000"), Hex.Of((await client.ReadOptionReplyAsync()).Raw));
        Assert.True(await client.WaitForServerCloseAsync());
    }

    [Fact]
    public async Task Go_for_an_unknown_export_is_refused_and_the_default_name_then_works()
    {
        await using TestServer server = TestServer.Start(new MemoryBackend(), exportName: "disk");
        await using NbdTestClient client = await NbdTestClient.HandshakeAsync(server.EndPoint);

        await client.SendOptionAsync(NbdOption.Go, NbdTestClient.GoData("other"));
        OptionReply refused = await client.ReadOptionReplyAsync();
        Assert.Equal((uint)NbdOptionReplyType.ErrorUnknown, refused.Type);
        Assert.Contains("other", System.Text.Encoding.UTF8.GetString(refused.Data), StringComparison.Ordinal);

        await client.SendOptionAsync(NbdOption.Go, NbdTestClient.GoData(""));
        Assert.Equal((uint)NbdOptionReplyType.Ack, (await client.ReadUntilFinalAsync())[^1].Type);
        Assert.Equal(NbdError.None, (await client.RequestAsync(NbdCommand.Read, 0, 512)).Error);
    }

    [Theory]
    [InlineData("00000009 6469736b 0000")] // name length runs past the data
    [InlineData("00000004 6469736b 0002 0001")] // two requests announced, one sent
    [InlineData("0000")] // shorter than the fixed fields
    public async Task Malformed_info_data_is_refused_as_invalid(string data)
    {
        await using TestServer server = TestServer.Start(new MemoryBackend());
        await using NbdTestClient client = await NbdTestClient.HandshakeAsync(server.EndPoint);

        await client.SendOptionAsync(NbdOption.Go, Convert.FromHexString(Hex.Golden(data)));

        Assert.Equal((uint)NbdOptionReplyType.ErrorInvalid, (await client.ReadOptionReplyAsync()).Type);
        await client.SendOptionAsync(NbdOption.Go, NbdTestClient.GoData("disk"));
        Assert.Equal((uint)NbdOptionReplyType.Ack, (await client.ReadUntilFinalAsync())[^1].Type);
    }

    [Fact]
    public async Task Export_name_for_an_unknown_export_closes_the_connection_with_a_logged_reason()
    {
        await using TestServer server = TestServer.Start(new MemoryBackend(), exportName: "disk");
        await using NbdTestClient client = await NbdTestClient.HandshakeAsync(server.EndPoint);

        await client.SendOptionAsync(NbdOption.ExportName, "nope"u8);

        Assert.True(await client.WaitForServerCloseAsync());
        Assert.True(server.Log.Contains(LogLevel.Warning, "export 'nope', which does not exist"), server.Log.ToString());
    }

    [Theory]
    [InlineData("client flags", "bad client flags")]
    [InlineData("option magic", "bad option magic")]
    [InlineData("more than the", "oversized option")]
    [InlineData("without fixed newstyle", "non-fixed client")]
    public async Task A_malformed_handshake_closes_that_connection_only_with_a_logged_reason(string reason, string what)
    {
        var backend = new MemoryBackend();
        await using TestServer server = TestServer.Start(backend);
        await using NbdTestClient bystander = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, "disk");
        await using NbdTestClient client = await NbdTestClient.ConnectAsync(server.EndPoint);
        await client.ReadExactlyAsync(18);

        switch (what)
        {
            case "bad client flags":
                await client.SendUInt32Async(0x0000_0004);
                break;
            case "bad option magic":
                await client.SendUInt32Async((uint)NbdClientFlags.FixedNewstyle);
                await client.SendOptionAsync(NbdOption.Go, NbdTestClient.GoData("disk"), magic: 0x1122334455667788);
                break;
            case "oversized option":
                await client.SendUInt32Async((uint)NbdClientFlags.FixedNewstyle);
                await client.SendAsync(Convert.FromHexString(Hex.Golden("49484156454f5054 00000007 7fffffff")));
                break;
            case "non-fixed client":
                await client.SendUInt32Async(0);
                await client.SendOptionAsync(NbdOption.Go, NbdTestClient.GoData("disk"));
                break;
        }

        Assert.True(await client.WaitForServerCloseAsync());
        Assert.True(server.Log.Contains(LogLevel.Warning, reason), server.Log.ToString());
        Assert.Equal(NbdError.None, (await bystander.RequestAsync(NbdCommand.Read, 0, 4096)).Error);
    }
}
