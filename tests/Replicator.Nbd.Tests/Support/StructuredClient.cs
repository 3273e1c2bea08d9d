using System.Buffers.Binary;
using System.Net;
using Replicator.Nbd.Protocol;

namespace Replicator.Nbd.Tests.Support;

/// <summary>One chunk of a structured reply, as the server sent it.</summary>
internal sealed record StructuredChunk(ushort Flags, NbdReplyChunkType Type, ulong Handle, byte[] Payload)
{
    public bool Done => (Flags & 1) != 0;

    /// <summary>An error chunk's error.</summary>
    public NbdError Error => (NbdError)BinaryPrimitives.ReadUInt32BigEndian(Payload);

    /// <summary>An error chunk's message.</summary>
    public string Message => System.Text.Encoding.UTF8.GetString(Payload.AsSpan(6, BinaryPrimitives.ReadUInt16BigEndian(Payload.AsSpan(4))));

    /// <summary>The offset an OFFSET_DATA or OFFSET_HOLE chunk starts at.</summary>
    public ulong Offset => BinaryPrimitives.ReadUInt64BigEndian(Payload);

    /// <summary>A BLOCK_STATUS chunk's descriptors: (length, flags) after the context id.</summary>
    public IReadOnlyList<(uint Length, NbdExtentState State)> Extents =>
        [.. Enumerable.Range(0, (Payload.Length - 4) / 8).Select(i => (BinaryPrimitives.ReadUInt32BigEndian(Payload.AsSpan(4 + (8 * i))), (NbdExtentState)BinaryPrimitives.ReadUInt32BigEndian(Payload.AsSpan(8 + (8 * i)))))];
}

/// <summary>The hand-written client's structured side: negotiating structured replies and meta contexts, and reading chunks.</summary>
internal static class StructuredClient
{
    public const uint StructuredReplyMagic = 0x668e33ef;

    /// <summary>Connects, negotiates structured replies (and <c>base:allocation</c> when asked), then NBD_OPT_GO; returns the export's flags too.</summary>
    public static async Task<(NbdTestClient Client, NbdTransmissionFlags Flags)> ConnectAsync(IPEndPoint endPoint, bool allocation = true)
    {
        NbdTestClient client = await NbdTestClient.HandshakeAsync(endPoint);
        await client.SendOptionAsync(NbdOption.StructuredReply, []);
        Assert.Equal((uint)NbdOptionReplyType.Ack, (await client.ReadOptionReplyAsync()).Type);
        if (allocation)
        {
            await client.SendOptionAsync(NbdOption.SetMetaContext, MetaContextData("disk", "base:allocation"));
            Assert.Equal((uint)NbdOptionReplyType.MetaContext, (await client.ReadOptionReplyAsync()).Type);
            Assert.Equal((uint)NbdOptionReplyType.Ack, (await client.ReadOptionReplyAsync()).Type);
        }

        await client.SendOptionAsync(NbdOption.Go, NbdTestClient.GoData("disk", NbdInfoType.BlockSize));
        var flags = NbdTransmissionFlags.None;
        while (true)
        {
            OptionReply reply = await client.ReadOptionReplyAsync();
            if (reply.Type == (uint)NbdOptionReplyType.Ack)
            {
                return (client, flags);
            }

            if (BinaryPrimitives.ReadUInt16BigEndian(reply.Data) == (ushort)NbdInfoType.Export)
            {
                flags = (NbdTransmissionFlags)BinaryPrimitives.ReadUInt16BigEndian(reply.Data.AsSpan(10));
            }
        }
    }

    /// <summary>NBD_OPT_LIST_META_CONTEXT / NBD_OPT_SET_META_CONTEXT data: name, count, then each query with its length.</summary>
    public static byte[] MetaContextData(string exportName, params string[] queries)
    {
        var data = new List<byte>();
        AddString(data, exportName);
        data.AddRange(BigEndian((uint)queries.Length));
        foreach (string query in queries)
        {
            AddString(data, query);
        }

        return [.. data];
    }

    /// <summary>Reads one chunk (simple replies fail the test: after structured replies a read never gets one).</summary>
    public static async Task<StructuredChunk> ReadChunkAsync(this NbdTestClient client)
    {
        byte[] header = await client.ReadExactlyAsync(20);
        Assert.Equal(StructuredReplyMagic, BinaryPrimitives.ReadUInt32BigEndian(header));
        byte[] payload = await client.ReadExactlyAsync((int)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(16)));
        return new StructuredChunk(
            BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(4)),
            (NbdReplyChunkType)BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(6)),
            BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(8)),
            payload);
    }

    /// <summary>Sends one request and reads its chunks up to the one marked done.</summary>
    public static async Task<List<StructuredChunk>> StructuredRequestAsync(this NbdTestClient client, NbdCommand command, ulong offset, uint length, NbdCommandFlags flags = NbdCommandFlags.None)
    {
        const ulong handle = 0x0102030405060708;
        await client.SendRequestAsync(command, handle, offset, length, flags);
        var chunks = new List<StructuredChunk>();
        do
        {
            chunks.Add(await client.ReadChunkAsync());
            Assert.Equal(handle, chunks[^1].Handle);
        }
        while (!chunks[^1].Done);

        return chunks;
    }

    /// <summary>Puts a read's chunks back together (holes as zeroes), checking they cover the range exactly once.</summary>
    public static byte[] Reassemble(IEnumerable<StructuredChunk> chunks, ulong offset, int length)
    {
        byte[] data = new byte[length];
        bool[] covered = new bool[length];
        foreach (StructuredChunk chunk in chunks)
        {
            int at = (int)(chunk.Offset - offset);
            int bytes = chunk.Type switch
            {
                NbdReplyChunkType.OffsetData => chunk.Payload.Length - 8,
                NbdReplyChunkType.OffsetHole => (int)BinaryPrimitives.ReadUInt32BigEndian(chunk.Payload.AsSpan(8)),
                _ => throw new InvalidOperationException($"a read answered with chunk {chunk.Type}"),
            };
            Assert.All(covered.AsSpan(at, bytes).ToArray(), c => Assert.False(c));
            covered.AsSpan(at, bytes).Fill(true);
            if (chunk.Type == NbdReplyChunkType.OffsetData)
            {
                chunk.Payload.AsSpan(8).CopyTo(data.AsSpan(at));
            }
        }

        Assert.All(covered, Assert.True);
        return data;
    }

    private static void AddString(List<byte> data, string text)
    {
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(text);
        data.AddRange(BigEndian((uint)bytes.Length));
        data.AddRange(bytes);
    }

    private static byte[] BigEndian(uint value)
    {
        byte[] bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }
}
