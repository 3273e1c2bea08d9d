using Replicator.Nbd.Protocol;
using Replicator.Nbd.Tests.Support;

namespace Replicator.Nbd.Tests.Structured;

/// <summary>CACHE, FAST_ZERO, and reads and writes longer than the backend's largest call.</summary>
public class CommandTests
{
    private const int Size = 1 << 20;
    private const int Max = 64 << 10;

    [Fact]
    public async Task Cache_asks_the_backend_to_prefetch_the_range_and_FUA_adds_a_flush()
    {
        var backend = new MemoryBackend(Size, Max);
        await using TestServer server = TestServer.Start(backend);
        await using NbdTestClient client = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, "disk");

        Assert.Equal(NbdError.None, (await client.RequestAsync(NbdCommand.Cache, 4096, Size - 4096)).Error);
        Assert.Equal(NbdError.None, (await client.RequestAsync(NbdCommand.Cache, 0, 512, NbdCommandFlags.Fua)).Error);

        Assert.Equal([$"cache 4096+{Size - 4096}", "cache 0+512", "flush"], backend.Calls);
    }

    [Fact]
    public async Task Fast_zero_fails_at_once_with_ENOTSUP_when_the_backend_zeroes_slowly_and_touches_nothing()
    {
        var backend = new MemoryBackend(Size, Max) { ZeroesFast = false };
        backend.Data.AsSpan().Fill(0xee);
        await using TestServer server = TestServer.Start(backend);
        await using NbdTestClient client = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, "disk");

        Assert.Equal(NbdError.NotSupported, (await client.RequestAsync(NbdCommand.WriteZeroes, 0, 4096, NbdCommandFlags.FastZero)).Error);

        Assert.Empty(backend.Calls);
        Assert.All(backend.Data, b => Assert.Equal(0xee, b));
        Assert.Equal(NbdError.None, (await client.RequestAsync(NbdCommand.WriteZeroes, 0, 4096)).Error); // without the flag it zeroes
    }

    [Fact]
    public async Task Fast_zero_zeroes_when_the_backend_zeroes_fast()
    {
        var backend = new MemoryBackend(Size, Max) { ZeroesFast = true };
        backend.Data.AsSpan().Fill(0xee);
        await using TestServer server = TestServer.Start(backend);
        await using NbdTestClient client = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, "disk");

        Assert.Equal(NbdError.None, (await client.RequestAsync(NbdCommand.WriteZeroes, 0, 4096, NbdCommandFlags.FastZero | NbdCommandFlags.Fua)).Error);

        Assert.Equal(["zeroes 0+4096 fua"], backend.Calls);
        Assert.All(backend.Data.AsSpan(0, 4096).ToArray(), b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task A_read_longer_than_the_backends_largest_call_is_read_in_pieces_into_one_reply()
    {
        var backend = new MemoryBackend(Size, Max);
        Random.Shared.NextBytes(backend.Data);
        await using TestServer server = TestServer.Start(backend);
        await using NbdTestClient client = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, "disk");

        SimpleReply reply = await client.RequestAsync(NbdCommand.Read, 4096, (3 * Max) + 512);

        Assert.Equal(NbdError.None, reply.Error);
        Assert.Equal(backend.Data.AsSpan(4096, (3 * Max) + 512).ToArray(), reply.Data);
        Assert.Equal([$"read 4096+{Max}", $"read {4096 + Max}+{Max}", $"read {4096 + (2 * Max)}+{Max}", $"read {4096 + (3 * Max)}+512"], backend.Calls.OrderBy(c => long.Parse(c.Split(' ', '+')[1], System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task A_write_longer_than_the_backends_largest_call_is_written_in_pieces_each_with_FUA()
    {
        var backend = new MemoryBackend(Size, Max);
        byte[] payload = new byte[(2 * Max) + 1024];
        Random.Shared.NextBytes(payload);
        await using TestServer server = TestServer.Start(backend);
        await using NbdTestClient client = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, "disk");

        Assert.Equal(NbdError.None, (await client.RequestAsync(NbdCommand.Write, 8192, (uint)payload.Length, NbdCommandFlags.Fua, payload)).Error);

        Assert.Equal(payload, backend.Data.AsSpan(8192, payload.Length).ToArray());
        Assert.Equal([$"write 8192+{Max} fua", $"write {8192 + Max}+{Max} fua", $"write {8192 + (2 * Max)}+1024 fua"], backend.Calls.OrderBy(c => long.Parse(c.Split(' ', '+')[1], System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task The_default_maximum_payload_takes_a_32_MiB_write_and_read()
    {
        const int bytes = NbdServerOptions.DefaultMaxPayloadBytes;
        var backend = new MemoryBackend(64 << 20, 4 << 20);
        byte[] payload = new byte[bytes];
        Random.Shared.NextBytes(payload);
        await using TestServer server = TestServer.Start(backend);
        await using NbdTestClient client = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, "disk");

        Assert.Equal(NbdError.None, (await client.RequestAsync(NbdCommand.Write, 0, bytes, payload: payload)).Error);
        SimpleReply read = await client.RequestAsync(NbdCommand.Read, 0, bytes);

        Assert.Equal(payload, read.Data);
        Assert.Equal(NbdError.Invalid, (await client.RequestAsync(NbdCommand.Read, 0, bytes + 512)).Error);
    }
}
