using Microsoft.Extensions.Logging;
using Replicator.Nbd.Protocol;
using Replicator.Nbd.Tests.Support;

namespace Replicator.Nbd.Tests.Protocol;

/// <summary>Transmission requests over a socket: replies byte for byte, error choices, and that a refused request leaves the connection usable.</summary>
public class RequestTests
{
    private const int Size = 1 << 20;
    private const int Max = 64 << 10;

    [Fact]
    public async Task A_write_and_a_read_get_simple_replies_with_the_request_handle()
    {
        var backend = new MemoryBackend(Size, Max);
        await using TestServer server = TestServer.Start(backend);
        await using NbdTestClient client = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, "disk");
        byte[] payload = [.. Enumerable.Range(0, 1024).Select(i => (byte)i)];

        await client.SendRequestAsync(NbdCommand.Write, 0xa1a2a3a4a5a6a7a8, 4096, 1024, payload: payload);
        Assert.Equal(Hex.Golden("67446698 00000000 a1a2a3a4a5a6a7a8"), Hex.Of(await client.ReadExactlyAsync(16)));

        await client.SendRequestAsync(NbdCommand.Read, 0x0102030405060708, 4096, 1024);
        Assert.Equal(Hex.Golden("67446698 00000000 0102030405060708"), Hex.Of(await client.ReadExactlyAsync(16)));
        Assert.Equal(payload, await client.ReadExactlyAsync(1024));
        Assert.Equal(payload, backend.Data.AsSpan(4096, 1024).ToArray());
    }

    [Theory]
    [InlineData(NbdCommand.Read, NbdCommandFlags.None, Size, 4096, NbdError.Invalid)] // starts at the end
    [InlineData(NbdCommand.Read, NbdCommandFlags.None, Size - 512, 1024, NbdError.Invalid)] // runs past the end
    [InlineData(NbdCommand.Read, NbdCommandFlags.None, ulong.MaxValue - 511, 512, NbdError.Invalid)] // offset + length overflows
    [InlineData(NbdCommand.Write, NbdCommandFlags.None, Size - 512, 1024, NbdError.NoSpace)]
    [InlineData(NbdCommand.WriteZeroes, NbdCommandFlags.None, Size, 512, NbdError.NoSpace)]
    [InlineData(NbdCommand.Trim, NbdCommandFlags.None, Size, 512, NbdError.Invalid)]
    [InlineData(NbdCommand.Read, NbdCommandFlags.None, 100, 512, NbdError.Invalid)] // misaligned offset
    [InlineData(NbdCommand.Read, NbdCommandFlags.None, 0, 100, NbdError.Invalid)] // misaligned length
    [InlineData(NbdCommand.Write, NbdCommandFlags.None, 512, 1000, NbdError.Invalid)] // misaligned, payload still consumed
    [InlineData(NbdCommand.Read, NbdCommandFlags.None, 0, Max + 512, NbdError.Invalid)] // above the maximum payload
    [InlineData(NbdCommand.Write, NbdCommandFlags.None, 0, Max + 512, NbdError.Invalid)] // above the maximum payload, payload skipped
    [InlineData(NbdCommand.WriteZeroes, NbdCommandFlags.None, Size - Max, (2 * Max) + 512, NbdError.NoSpace)] // long, and straddles the end: refused whole
    [InlineData(NbdCommand.Trim, NbdCommandFlags.None, Size - Max, (2 * Max) + 512, NbdError.Invalid)] // long, and straddles the end: refused whole
    [InlineData(NbdCommand.Read, NbdCommandFlags.None, 0, 0, NbdError.Invalid)] // empty
    [InlineData(NbdCommand.Flush, NbdCommandFlags.None, 512, 0, NbdError.Invalid)] // a flush has no range
    [InlineData(NbdCommand.Cache, NbdCommandFlags.None, Size, 512, NbdError.Invalid)] // past the end
    [InlineData(NbdCommand.BlockStatus, NbdCommandFlags.None, 0, 512, NbdError.Invalid)] // no metadata context selected
    [InlineData((NbdCommand)42, NbdCommandFlags.None, 0, 512, NbdError.Invalid)] // unknown
    [InlineData(NbdCommand.Read, NbdCommandFlags.DontFragment, 0, 512, NbdError.Invalid)] // DF needs structured replies
    [InlineData(NbdCommand.Write, NbdCommandFlags.NoHole, 0, 512, NbdError.Invalid)] // NO_HOLE is for write-zeroes
    [InlineData(NbdCommand.WriteZeroes, NbdCommandFlags.FastZero, 0, 512, NbdError.NotSupported)] // this backend's zeroing is not fast
    [InlineData(NbdCommand.Read, (NbdCommandFlags)0x8000, 0, 512, NbdError.Invalid)] // unknown flag
    public async Task A_refused_request_gets_its_error_and_the_connection_keeps_serving(NbdCommand command, NbdCommandFlags flags, ulong offset, uint length, NbdError expected)
    {
        var backend = new MemoryBackend(Size, Max);
        backend.Data.AsSpan(0, 512).Fill(0x77);
        await using TestServer server = TestServer.Start(backend, new NbdServerOptions { EndPoint = TestServer.AnyLoopbackPort, ExportName = "disk", MaxPayloadBytes = Max });
        await using NbdTestClient client = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, "disk");

        byte[] payload = command == NbdCommand.Write ? new byte[length] : [];
        SimpleReply refused = await client.RequestAsync(command, offset, length, flags, payload);

        Assert.Equal(expected, refused.Error);
        Assert.Empty(refused.Data);
        Assert.Empty(backend.Calls);
        SimpleReply next = await client.RequestAsync(NbdCommand.Read, 0, 512);
        Assert.Equal(NbdError.None, next.Error);
        Assert.All(next.Data, b => Assert.Equal(0x77, b));
    }

    [Theory]
    [InlineData(NbdCommand.Write, NbdCommandFlags.Fua, "write 0+4096 fua")]
    [InlineData(NbdCommand.Write, NbdCommandFlags.None, "write 0+4096")]
    [InlineData(NbdCommand.WriteZeroes, NbdCommandFlags.Fua | NbdCommandFlags.NoHole, "zeroes 0+4096 fua")]
    [InlineData(NbdCommand.WriteZeroes, NbdCommandFlags.NoHole, "zeroes 0+4096")]
    [InlineData(NbdCommand.Trim, NbdCommandFlags.Fua, "trim 0+4096,flush")]
    [InlineData(NbdCommand.Trim, NbdCommandFlags.None, "trim 0+4096")]
    [InlineData(NbdCommand.Read, NbdCommandFlags.Fua, "read 0+4096")] // FUA is accepted on any command
    public async Task Fua_reaches_the_backend_as_durability(NbdCommand command, NbdCommandFlags flags, string calls)
    {
        var backend = new MemoryBackend(Size, Max);
        await using TestServer server = TestServer.Start(backend);
        await using NbdTestClient client = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, "disk");

        SimpleReply reply = await client.RequestAsync(command, 0, 4096, flags, command == NbdCommand.Write ? new byte[4096] : default);

        Assert.Equal(NbdError.None, reply.Error);
        Assert.Equal(calls, string.Join(',', backend.Calls));
    }

    [Fact]
    public async Task Flush_reaches_the_backend()
    {
        var backend = new MemoryBackend(Size, Max);
        await using TestServer server = TestServer.Start(backend);
        await using NbdTestClient client = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, "disk");

        Assert.Equal(NbdError.None, (await client.RequestAsync(NbdCommand.Flush, 0, 0)).Error);
        Assert.Equal(["flush"], backend.Calls);
    }

    [Fact]
    public async Task A_trim_longer_than_the_maximum_is_split_into_backend_sized_pieces()
    {
        var backend = new MemoryBackend(Size, Max);
        backend.Data.AsSpan().Fill(0xff);
        await using TestServer server = TestServer.Start(backend);
        await using NbdTestClient client = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, "disk");

        Assert.Equal(NbdError.None, (await client.RequestAsync(NbdCommand.Trim, 4096, (3 * Max) + 512)).Error);

        Assert.Equal([$"trim 4096+{Max}", $"trim {4096 + Max}+{Max}", $"trim {4096 + (2 * Max)}+{Max}", $"trim {4096 + (3 * Max)}+512"], backend.Calls);
    }

    [Theory]
    [InlineData(NbdCommandFlags.Fua, " fua")]
    [InlineData(NbdCommandFlags.NoHole, "")]
    public async Task A_write_zeroes_longer_than_the_maximum_is_split_and_every_piece_keeps_FUA(NbdCommandFlags flags, string fua)
    {
        var backend = new MemoryBackend(Size, Max);
        backend.Data.AsSpan().Fill(0xff);
        await using TestServer server = TestServer.Start(backend);
        await using NbdTestClient client = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, "disk");

        Assert.Equal(NbdError.None, (await client.RequestAsync(NbdCommand.WriteZeroes, 4096, (3 * Max) + 512, flags)).Error);

        Assert.Equal([$"zeroes 4096+{Max}{fua}", $"zeroes {4096 + Max}+{Max}{fua}", $"zeroes {4096 + (2 * Max)}+{Max}{fua}", $"zeroes {4096 + (3 * Max)}+512{fua}"], backend.Calls);
        Assert.All(backend.Data.AsSpan(4096, (3 * Max) + 512).ToArray(), b => Assert.Equal(0, b));
        Assert.Equal(0xff, backend.Data[4095]);
        Assert.Equal(0xff, backend.Data[4096 + (3 * Max) + 512]);
    }

    [Fact]
    public async Task A_trim_longer_than_the_maximum_with_FUA_flushes_once_after_every_piece()
    {
        var backend = new MemoryBackend(Size, Max);
        await using TestServer server = TestServer.Start(backend);
        await using NbdTestClient client = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, "disk");

        Assert.Equal(NbdError.None, (await client.RequestAsync(NbdCommand.Trim, 0, 2 * Max, NbdCommandFlags.Fua)).Error);

        Assert.Equal([$"trim 0+{Max}", $"trim {Max}+{Max}", "flush"], backend.Calls);
    }

    [Theory]
    [InlineData(NbdCommand.WriteZeroes, "zeroes")]
    [InlineData(NbdCommand.Trim, "trim")]
    public async Task A_failed_piece_fails_the_whole_split_request_with_its_error_and_the_connection_keeps_serving(NbdCommand command, string call)
    {
        var backend = new MemoryBackend(Size, Max)
        {
            Fault = c => c.StartsWith($"{call} {Max}+", StringComparison.Ordinal) ? new NbdBackendException(NbdError.NoSpace, "thin pool full") : null,
        };
        await using TestServer server = TestServer.Start(backend);
        await using NbdTestClient client = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, "disk");

        Assert.Equal(NbdError.NoSpace, (await client.RequestAsync(command, 0, 3 * Max, NbdCommandFlags.Fua)).Error);
        Assert.DoesNotContain("flush", backend.Calls); // a trim's FUA flush is only for a trim that succeeded

        Assert.Equal(NbdError.None, (await client.RequestAsync(NbdCommand.Read, 0, 512)).Error);
        Assert.True(server.Log.Contains(LogLevel.Error, "failed in the backend"), server.Log.ToString());
    }

    [Fact]
    public async Task A_backend_failure_is_EIO_or_its_own_error_and_the_connection_keeps_serving()
    {
        var backend = new MemoryBackend(Size, Max)
        {
            Fault = call => call switch
            {
                "read 4096+512" => new IOException("disk on fire"),
                "zeroes 0+512" => new NbdBackendException(NbdError.NoSpace, "thin pool full"),
                _ => null,
            },
        };
        await using TestServer server = TestServer.Start(backend);
        await using NbdTestClient client = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, "disk");

        SimpleReply failed = await client.RequestAsync(NbdCommand.Read, 4096, 512);
        Assert.Equal(NbdError.IoError, failed.Error);
        Assert.Empty(failed.Data); // a failed simple read reply carries no data
        Assert.Equal(NbdError.NoSpace, (await client.RequestAsync(NbdCommand.WriteZeroes, 0, 512)).Error);

        Assert.Equal(NbdError.None, (await client.RequestAsync(NbdCommand.Read, 0, 512)).Error);
        Assert.True(server.Log.Contains(LogLevel.Error, "failed in the backend"), server.Log.ToString());
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public async Task A_read_only_export_refuses_changes_with_EPERM(bool readOnlyBackend, bool readOnlyOption)
    {
        var backend = new MemoryBackend(Size, Max, readOnly: readOnlyBackend);
        await using TestServer server = TestServer.Start(backend, readOnly: readOnlyOption);
        await using NbdTestClient client = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, "disk");

        Assert.Equal(
            NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.ReadOnly | NbdTransmissionFlags.SendFlush | NbdTransmissionFlags.SendFua
                | NbdTransmissionFlags.CanMultiConnection | NbdTransmissionFlags.SendCache,
            client.TransmissionFlags);
        Assert.Equal(NbdError.NotPermitted, (await client.RequestAsync(NbdCommand.Write, 0, 512, payload: new byte[512])).Error);
        Assert.Equal(NbdError.NotPermitted, (await client.RequestAsync(NbdCommand.Write, 0, Max + 512, payload: new byte[Max + 512])).Error);
        Assert.Equal(NbdError.NotPermitted, (await client.RequestAsync(NbdCommand.WriteZeroes, 0, 512)).Error);
        Assert.Equal(NbdError.NotPermitted, (await client.RequestAsync(NbdCommand.Trim, 0, 512)).Error);
        Assert.Equal(NbdError.None, (await client.RequestAsync(NbdCommand.Read, 0, 512)).Error);
        Assert.Equal(NbdError.None, (await client.RequestAsync(NbdCommand.Flush, 0, 0)).Error);
        Assert.Equal(["read 0+512", "flush"], backend.Calls);
    }

    [Fact]
    public async Task A_bad_request_magic_closes_that_connection_only_with_a_logged_reason()
    {
        await using TestServer server = TestServer.Start(new MemoryBackend(Size, Max));
        await using NbdTestClient bad = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, "disk");
        await using NbdTestClient good = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, "disk");

        await bad.SendAsync(Convert.FromHexString(Hex.Golden("deadbeef 0000 0000 0000000000000001 0000000000000000 00000200")));

        Assert.True(await bad.WaitForServerCloseAsync());
        Assert.True(server.Log.Contains(LogLevel.Warning, "request magic 0xdeadbeef"), server.Log.ToString());
        Assert.Equal(NbdError.None, (await good.RequestAsync(NbdCommand.Read, 0, 512)).Error);
    }

    [Fact]
    public async Task A_write_far_beyond_the_maximum_closes_the_connection_instead_of_reading_its_payload()
    {
        await using TestServer server = TestServer.Start(new MemoryBackend(Size, Max));
        await using NbdTestClient client = await NbdTestClient.ConnectAndGoAsync(server.EndPoint, "disk");

        await client.SendRequestAsync(NbdCommand.Write, 1, 0, 0x4000_0000);

        Assert.True(await client.WaitForServerCloseAsync());
        Assert.True(server.Log.Contains(LogLevel.Warning, "far beyond"), server.Log.ToString());
    }
}
