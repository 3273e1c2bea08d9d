using Replicator.Runtime.Links;

namespace Replicator.Runtime.Tests.Links;

/// <summary>
/// The stream under the link's TLS: reads taken from the socket in large pieces and handed out in
/// TLS's small ones, writes gathered until a flush — every byte in its order either way.
/// </summary>
public sealed class BatchingSocketStreamTests
{
    private static byte[] Bytes(int length, int seed)
    {
        byte[] bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static BatchingSocketStream Batching(Stream socket)
    {
        var stream = new BatchingSocketStream(socket);
        stream.StartBatching();
        return stream;
    }

    [Fact]
    public async Task Until_the_handshake_is_done_every_read_and_write_goes_straight_to_the_socket()
    {
        var socket = new ScriptedSocket(Bytes(100, 1));
        using var stream = new BatchingSocketStream(socket);
        byte[] hello = Bytes(10, 2), buffer = new byte[30];

        await stream.WriteAsync(hello);
        Assert.Equal(30, await stream.ReadAsync(buffer));
        Assert.Equal(30, await stream.ReadAsync(buffer));

        Assert.Equal(hello, Assert.Single(socket.Writes));
        Assert.Equal(2, socket.Reads);
    }

    [Fact]
    public async Task Writes_gather_until_a_flush_and_go_out_as_one_in_their_order()
    {
        var socket = new ScriptedSocket();
        using var stream = Batching(socket);
        byte[] a = Bytes(16 * 1024, 1), b = Bytes(16 * 1024, 2), c = Bytes(100, 3);

        await stream.WriteAsync(a);
        await stream.WriteAsync(b);
        await stream.WriteAsync(c);
        Assert.Empty(socket.Writes);

        await stream.FlushAsync();
        Assert.Equal([.. a, .. b, .. c], Assert.Single(socket.Writes));

        await stream.FlushAsync();
        Assert.Single(socket.Writes);
    }

    [Fact]
    public async Task A_write_that_would_overflow_sends_what_is_held_first_and_a_large_one_goes_straight_behind_it()
    {
        var socket = new ScriptedSocket();
        using var stream = Batching(socket);
        byte[] held = Bytes(BatchingSocketStream.WriteBufferBytes - 10, 1), next = Bytes(20, 2), large = Bytes(BatchingSocketStream.WriteBufferBytes, 3);

        await stream.WriteAsync(held);
        await stream.WriteAsync(next);
        Assert.Equal(held, Assert.Single(socket.Writes));

        await stream.WriteAsync(large);
        Assert.Equal([held, next, large], socket.Writes);
    }

    [Fact]
    public async Task A_synchronous_write_goes_out_at_once_behind_what_was_gathered()
    {
        var socket = new ScriptedSocket();
        using var stream = Batching(socket);
        byte[] gathered = Bytes(300, 1), alert = Bytes(7, 2);

        await stream.WriteAsync(gathered);
        stream.Write(alert);

        Assert.Equal([gathered, alert], socket.Writes);
    }

    [Fact]
    public async Task Small_reads_are_served_from_one_large_read_of_the_socket()
    {
        byte[] arrived = Bytes(100 * 1024, 4);
        var socket = new ScriptedSocket(arrived);
        using var stream = Batching(socket);
        var taken = new List<byte>();
        byte[] buffer = new byte[5 + (16 * 1024)];

        while (taken.Count < arrived.Length)
        {
            int read = await stream.ReadAsync(buffer.AsMemory(0, taken.Count % 2 == 0 ? 5 : buffer.Length));
            Assert.True(read > 0);
            taken.AddRange(buffer.AsSpan(0, read).ToArray());
        }

        Assert.Equal(arrived, taken.ToArray());
        Assert.Equal(1, socket.Reads);
        Assert.Equal(0, await stream.ReadAsync(buffer));
    }

    [Fact]
    public async Task A_read_as_large_as_the_buffer_goes_straight_to_the_socket_and_a_closed_socket_reads_zero()
    {
        // More than the buffer holds has arrived: only a read straight into the caller's buffer takes it all at once.
        byte[] arrived = Bytes(BatchingSocketStream.ReadBufferBytes + 1000, 5);
        var socket = new ScriptedSocket(arrived);
        using var stream = Batching(socket);
        byte[] buffer = new byte[arrived.Length];

        Assert.Equal(arrived.Length, await stream.ReadAsync(buffer));
        Assert.Equal(arrived, buffer[..arrived.Length]);
        Assert.Equal(0, await stream.ReadAsync(buffer.AsMemory(0, 10)));
        Assert.Equal(0, stream.Read(buffer.AsSpan(0, 10)));
    }

    /// <summary>A socket whose arriving bytes are given up front (each read takes what fits) and whose writes are recorded one by one.</summary>
    private sealed class ScriptedSocket(params byte[][] arriving) : Stream
    {
        private readonly Queue<byte[]> _arriving = new(arriving);

        public List<byte[]> Writes { get; } = [];

        public int Reads { get; private set; }

        public override bool CanRead => true;

        public override bool CanWrite => true;

        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            Reads++;
            if (!_arriving.TryPeek(out byte[]? next))
            {
                return 0;
            }

            int taken = Math.Min(buffer.Length, next.Length);
            next.AsSpan(0, taken).CopyTo(buffer);
            _arriving.Dequeue();
            if (taken < next.Length)
            {
                _arriving.Enqueue(next[taken..]); // the only chunk in these tests: order holds
            }

            return taken;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer) => Writes.Add(buffer.ToArray());

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
