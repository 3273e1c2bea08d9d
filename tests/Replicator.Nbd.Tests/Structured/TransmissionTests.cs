using System.Buffers.Binary;
using Replicator.Nbd.Protocol;
using Replicator.Nbd.Tests.Support;

namespace Replicator.Nbd.Tests.Structured;

/// <summary>Transmission once structured replies are on: reads as chunks with holes, block status, errors with messages.</summary>
public class TransmissionTests
{
    private const int Size = 1 << 20;
    private const int Max = 64 << 10;

    [Fact]
    public async Task A_read_of_data_and_zero_blocks_comes_as_data_and_hole_chunks_that_rebuild_it()
    {
        var backend = new MemoryBackend(Size, Max);
        Random.Shared.NextBytes(backend.Data.AsSpan(0, 4096 + 100)); // one block and a little of the next: data
        Random.Shared.NextBytes(backend.Data.AsSpan(5 * 4096, 4096)); // block 5: data; blocks 2..4 and 6..7 zero
        await using TestServer server = TestServer.Start(backend);
        (NbdTestClient client, _) = await StructuredClient.ConnectAsync(server.EndPoint);
        await using NbdTestClient owned = client;

        List<StructuredChunk> chunks = await client.StructuredRequestAsync(NbdCommand.Read, 0, 8 * 4096);

        Assert.Equal(
            [(NbdReplyChunkType.OffsetData, 0ul), (NbdReplyChunkType.OffsetHole, 2 * 4096ul), (NbdReplyChunkType.OffsetData, 5 * 4096ul), (NbdReplyChunkType.OffsetHole, 6 * 4096ul)],
            chunks.Select(c => (c.Type, c.Offset)));
        Assert.Equal(12, chunks[1].Payload.Length);
        Assert.Equal(3 * 4096u, BinaryPrimitives.ReadUInt32BigEndian(chunks[1].Payload.AsSpan(8)));
        Assert.Equal(backend.Data.AsSpan(0, 8 * 4096).ToArray(), StructuredClient.Reassemble(chunks, 0, 8 * 4096));
        Assert.Single(chunks, c => c.Done);
        Assert.True(chunks[^1].Done);
    }

    [Fact]
    public async Task A_read_with_DF_is_one_data_chunk_even_over_zeroes()
    {
        var backend = new MemoryBackend(Size, Max);
        backend.Data[0] = 1;
        await using TestServer server = TestServer.Start(backend);
        (NbdTestClient client, _) = await StructuredClient.ConnectAsync(server.EndPoint);
        await using NbdTestClient owned = client;

        StructuredChunk chunk = Assert.Single(await client.StructuredRequestAsync(NbdCommand.Read, 0, 8 * 4096, NbdCommandFlags.DontFragment));

        Assert.Equal(NbdReplyChunkType.OffsetData, chunk.Type);
        Assert.Equal(backend.Data.AsSpan(0, 8 * 4096).ToArray(), chunk.Payload.AsSpan(8).ToArray());
    }

    [Fact]
    public async Task A_failed_read_gets_an_error_chunk_with_a_message_never_a_simple_reply()
    {
        var backend = new MemoryBackend(Size, Max) { Fault = call => call.StartsWith("read", StringComparison.Ordinal) ? new IOException("disk gone") : null };
        await using TestServer server = TestServer.Start(backend);
        (NbdTestClient client, _) = await StructuredClient.ConnectAsync(server.EndPoint);
        await using NbdTestClient owned = client;

        StructuredChunk failed = Assert.Single(await client.StructuredRequestAsync(NbdCommand.Read, 0, 4096));
        StructuredChunk refused = Assert.Single(await client.StructuredRequestAsync(NbdCommand.Read, Size, 4096));

        Assert.Equal((NbdReplyChunkType.Error, NbdError.IoError), (failed.Type, failed.Error));
        Assert.Contains("I/O error", failed.Message, StringComparison.Ordinal);
        Assert.Equal((NbdReplyChunkType.Error, NbdError.Invalid), (refused.Type, refused.Error));
        Assert.True(refused.Done);
    }

    [Fact]
    public async Task Writes_and_flushes_keep_simple_replies_which_structured_clients_accept()
    {
        var backend = new MemoryBackend(Size, Max);
        await using TestServer server = TestServer.Start(backend);
        (NbdTestClient client, _) = await StructuredClient.ConnectAsync(server.EndPoint);
        await using NbdTestClient owned = client;

        Assert.Equal(NbdError.None, (await client.RequestAsync(NbdCommand.Write, 0, 512, payload: new byte[512])).Error);
        Assert.Equal(NbdError.None, (await client.RequestAsync(NbdCommand.Flush, 0, 0)).Error);
        Assert.Equal(["write 0+512", "flush"], backend.Calls);
    }

    [Fact]
    public async Task Block_status_carries_the_backends_extents_under_the_selected_context_id()
    {
        var backend = new MemoryBackend(Size, Max)
        {
            Allocation = (offset, length, extents) =>
            {
                extents.Span[0] = new NbdExtent(8192, NbdExtentState.Data);
                extents.Span[1] = new NbdExtent(length - 8192, NbdExtentState.Hole | NbdExtentState.Zero);
                return 2;
            },
        };
        await using TestServer server = TestServer.Start(backend);
        (NbdTestClient client, _) = await StructuredClient.ConnectAsync(server.EndPoint);
        await using NbdTestClient owned = client;

        StructuredChunk status = Assert.Single(await client.StructuredRequestAsync(NbdCommand.BlockStatus, 4096, Size - 4096));

        Assert.Equal(NbdReplyChunkType.BlockStatus, status.Type);
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32BigEndian(status.Payload)); // the id SET_META_CONTEXT gave
        Assert.Equal([(8192u, NbdExtentState.Data), ((uint)Size - 4096 - 8192, NbdExtentState.Hole | NbdExtentState.Zero)], status.Extents);
        Assert.Equal([$"status 4096+{Size - 4096} room {Nbd.Server.NbdTransmission.MaxExtentsPerReply}"], backend.Calls);
    }

    [Fact]
    public async Task Block_status_with_REQ_ONE_gives_the_backend_room_for_one_extent()
    {
        var backend = new MemoryBackend(Size, Max);
        await using TestServer server = TestServer.Start(backend);
        (NbdTestClient client, _) = await StructuredClient.ConnectAsync(server.EndPoint);
        await using NbdTestClient owned = client;

        StructuredChunk status = Assert.Single(await client.StructuredRequestAsync(NbdCommand.BlockStatus, 0, 2048, NbdCommandFlags.RequestOne));

        Assert.Equal([(2048u, NbdExtentState.Data)], status.Extents);
        Assert.Equal(["status 0+2048 room 1"], backend.Calls); // and room for at most one extent per sector otherwise
    }

    [Theory]
    [InlineData(0)] // no extent at all
    [InlineData(-1)] // more than there is room for
    [InlineData(-2)] // an empty extent
    [InlineData(-3)] // extents past the request
    public async Task A_backend_that_describes_allocation_wrongly_gets_EIO_not_a_bad_reply(int mistake)
    {
        var backend = new MemoryBackend(Size, Max)
        {
            Allocation = (offset, length, extents) =>
            {
                switch (mistake)
                {
                    case -2:
                        extents.Span[0] = new NbdExtent(0, NbdExtentState.Data);
                        return 1;
                    case -3:
                        extents.Span[0] = new NbdExtent(length, NbdExtentState.Data);
                        extents.Span[1] = new NbdExtent(512, NbdExtentState.Data);
                        return 2;
                    default:
                        return mistake == -1 ? extents.Length + 1 : 0;
                }
            },
        };
        await using TestServer server = TestServer.Start(backend);
        (NbdTestClient client, _) = await StructuredClient.ConnectAsync(server.EndPoint);
        await using NbdTestClient owned = client;

        StructuredChunk failed = Assert.Single(await client.StructuredRequestAsync(NbdCommand.BlockStatus, 0, 4096));

        Assert.Equal((NbdReplyChunkType.Error, NbdError.IoError), (failed.Type, failed.Error));
        Assert.True(server.Log.Contains(Microsoft.Extensions.Logging.LogLevel.Error, "BlockStatus at 0+4096 failed in the backend; replied IoError"), server.Log.ToString());
    }
}
