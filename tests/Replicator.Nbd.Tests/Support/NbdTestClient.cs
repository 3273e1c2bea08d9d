using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Replicator.Nbd.Protocol;

namespace Replicator.Nbd.Tests.Support;

/// <summary>
/// A deliberately small NBD client written from the protocol text, for driving the server byte by
/// byte: it sends what a test tells it to, well formed or not, and hands back the raw replies.
/// Every read is bounded by <see cref="Deadline"/>.
/// </summary>
internal sealed class NbdTestClient : IAsyncDisposable
{
    public const ulong OptionMagic = 0x49484156454f5054;
    public const ulong OptionReplyMagic = 0x0003e889045565a9;

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;

    private NbdTestClient(TcpClient tcp)
    {
        _tcp = tcp;
        _tcp.NoDelay = true;
        _stream = tcp.GetStream();
    }

    /// <param name="endPoint">The server.</param>
    /// <param name="receiveBufferBytes">
    /// When set, the socket's receive buffer, fixed before connecting (which turns off the kernel's
    /// autotuning): a client that does not read then leaves the server's replies in the server.
    /// </param>
    public static async Task<NbdTestClient> ConnectAsync(IPEndPoint endPoint, int? receiveBufferBytes = null)
    {
        var tcp = new TcpClient(endPoint.AddressFamily);
        if (receiveBufferBytes is { } bytes)
        {
            tcp.ReceiveBufferSize = bytes;
        }

        await tcp.ConnectAsync(endPoint, Deadline.Token());
        return new NbdTestClient(tcp);
    }

    /// <summary>Connects, reads the greeting and sends fixed newstyle and no-zeroes: ready for options.</summary>
    public static async Task<NbdTestClient> HandshakeAsync(IPEndPoint endPoint)
    {
        NbdTestClient client = await ConnectAsync(endPoint);
        await client.ReadExactlyAsync(18);
        await client.SendUInt32Async((uint)(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes));
        return client;
    }

    /// <summary>Reads option replies through the informational ones (INFO, SERVER) to the final ack or error.</summary>
    public async Task<List<OptionReply>> ReadUntilFinalAsync()
    {
        var replies = new List<OptionReply>();
        do
        {
            replies.Add(await ReadOptionReplyAsync());
        }
        while (replies[^1].Type is (uint)NbdOptionReplyType.Info or (uint)NbdOptionReplyType.Server);

        return replies;
    }

    /// <summary>The export's size, from NBD_INFO_EXPORT (after <see cref="ConnectAndGoAsync"/>).</summary>
    public ulong ExportSize { get; private set; }

    /// <summary>The export's transmission flags, from NBD_INFO_EXPORT (after <see cref="ConnectAndGoAsync"/>).</summary>
    public NbdTransmissionFlags TransmissionFlags { get; private set; }

    /// <summary>Connects and completes a fixed newstyle handshake with NBD_OPT_GO.</summary>
    public static async Task<NbdTestClient> ConnectAndGoAsync(IPEndPoint endPoint, string exportName = "", int? receiveBufferBytes = null)
    {
        NbdTestClient client = await ConnectAsync(endPoint, receiveBufferBytes);
        await client.ReadExactlyAsync(18);
        await client.SendUInt32Async((uint)(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes));
        await client.SendOptionAsync(NbdOption.Go, GoData(exportName, NbdInfoType.BlockSize));
        while (true)
        {
            OptionReply reply = await client.ReadOptionReplyAsync();
            if (reply.Type == (uint)NbdOptionReplyType.Ack)
            {
                return client;
            }

            Assert.Equal((uint)NbdOptionReplyType.Info, reply.Type);
            if (BinaryPrimitives.ReadUInt16BigEndian(reply.Data) == (ushort)NbdInfoType.Export)
            {
                client.ExportSize = BinaryPrimitives.ReadUInt64BigEndian(reply.Data.AsSpan(2));
                client.TransmissionFlags = (NbdTransmissionFlags)BinaryPrimitives.ReadUInt16BigEndian(reply.Data.AsSpan(10));
            }
        }
    }

    /// <summary>The data of NBD_OPT_INFO / NBD_OPT_GO: name length, name, count, info types.</summary>
    public static byte[] GoData(string exportName, params NbdInfoType[] requests)
    {
        byte[] name = Encoding.UTF8.GetBytes(exportName);
        byte[] data = new byte[4 + name.Length + 2 + (2 * requests.Length)];
        BinaryPrimitives.WriteUInt32BigEndian(data, (uint)name.Length);
        name.CopyTo(data, 4);
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(4 + name.Length), (ushort)requests.Length);
        for (int i = 0; i < requests.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(4 + name.Length + 2 + (2 * i)), (ushort)requests[i]);
        }

        return data;
    }

    public async Task SendAsync(ReadOnlyMemory<byte> bytes) => await _stream.WriteAsync(bytes, Deadline.Token());

    public Task SendUInt32Async(uint value)
    {
        byte[] bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return SendAsync(bytes);
    }

    public Task SendOptionAsync(NbdOption option, ReadOnlySpan<byte> data, ulong magic = OptionMagic)
    {
        byte[] bytes = new byte[16 + data.Length];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, magic);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(8), (uint)option);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(12), (uint)data.Length);
        data.CopyTo(bytes.AsSpan(16));
        return SendAsync(bytes);
    }

    public async Task<OptionReply> ReadOptionReplyAsync()
    {
        byte[] header = await ReadExactlyAsync(20);
        Assert.Equal(OptionReplyMagic, BinaryPrimitives.ReadUInt64BigEndian(header));
        int length = (int)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(16));
        byte[] data = await ReadExactlyAsync(length);
        return new OptionReply(
            BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(8)),
            BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(12)),
            data,
            [.. header, .. data]);
    }

    public Task SendRequestAsync(NbdCommand command, ulong handle, ulong offset, uint length, NbdCommandFlags flags = NbdCommandFlags.None, ReadOnlyMemory<byte> payload = default)
    {
        byte[] bytes = new byte[NbdRequest.Size + payload.Length];
        new NbdRequest(flags, command, handle, offset, length).Write(bytes);
        payload.CopyTo(bytes.AsMemory(NbdRequest.Size));
        return SendAsync(bytes);
    }

    /// <summary>Reads one simple reply; <paramref name="readLengthOf"/> says how much data follows a successful reply to a handle.</summary>
    public async Task<SimpleReply> ReadReplyAsync(Func<ulong, int>? readLengthOf = null)
    {
        byte[] header = await ReadExactlyAsync(NbdSimpleReply.HeaderSize);
        Assert.Equal(0x67446698u, BinaryPrimitives.ReadUInt32BigEndian(header));
        var error = (NbdError)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4));
        ulong handle = BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(8));
        int dataLength = error == NbdError.None && readLengthOf is not null ? readLengthOf(handle) : 0;
        return new SimpleReply(error, handle, await ReadExactlyAsync(dataLength));
    }

    /// <summary>Sends one request and reads its reply (for requests one at a time).</summary>
    public async Task<SimpleReply> RequestAsync(NbdCommand command, ulong offset, uint length, NbdCommandFlags flags = NbdCommandFlags.None, ReadOnlyMemory<byte> payload = default)
    {
        const ulong handle = 0x1122334455667788;
        await SendRequestAsync(command, handle, offset, length, flags, payload);
        SimpleReply reply = await ReadReplyAsync(_ => command == NbdCommand.Read ? (int)length : 0);
        Assert.Equal(handle, reply.Handle);
        return reply;
    }

    public async Task<byte[]> ReadExactlyAsync(int count)
    {
        byte[] bytes = new byte[count];
        await _stream.ReadExactlyAsync(bytes, Deadline.Token());
        return bytes;
    }

    /// <summary>Reads until the server closes the connection (end of stream or reset); returns how many bytes came first.</summary>
    public async Task<int> ReadUntilServerCloseAsync()
    {
        byte[] scratch = new byte[4096];
        int total = 0;
        try
        {
            int read;
            while ((read = await _stream.ReadAsync(scratch, Deadline.Token())) > 0)
            {
                total += read;
            }
        }
        catch (IOException)
        {
            // A reset: closed too.
        }

        return total;
    }

    /// <summary>True once the server has closed the connection (end of stream or reset), after any bytes still in flight.</summary>
    public async Task<bool> WaitForServerCloseAsync()
    {
        byte[] scratch = new byte[4096];
        try
        {
            while (await _stream.ReadAsync(scratch, Deadline.Token()) > 0)
            {
            }

            return true;
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>Closes with a reset (SO_LINGER 0) instead of an orderly close: a client that crashed, as the server sees it.</summary>
    public void Reset()
    {
        _tcp.Client.LingerState = new LingerOption(true, 0);
        _tcp.Client.Close();
    }

    public ValueTask DisposeAsync()
    {
        _stream.Dispose();
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
