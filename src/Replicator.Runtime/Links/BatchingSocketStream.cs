namespace Replicator.Runtime.Links;

/// <summary>
/// The socket under the link's TLS, read and written in large pieces. TLS cuts the stream into
/// records of at most 16 KiB and <see cref="System.Net.Security.SslStream"/> reads each one's header
/// and body from its inner stream and writes each record to it separately: straight on the socket
/// that was a system call for every 7 KiB received and 29 KiB sent, and the link carried a third
/// of what it carries without TLS. Here one read takes whatever the socket holds, up to
/// <see cref="ReadBufferBytes"/>, and serves TLS's small reads from it; written records gather
/// until a flush (the connection's send loop flushes after each batch, TLS after each handshake
/// message) or until <see cref="WriteBufferBytes"/> are held.
/// </summary>
/// <remarks>
/// Until <see cref="StartBatching"/> (the end of the handshake) every read and write goes straight
/// to the socket, so a connection that has not proven the pair key holds no buffer of this
/// stream's. One reader and one writer may use it at once, as TLS does; they share nothing. A
/// synchronous write (TLS's last alert on a failure) goes out at once, behind whatever was gathered.
/// </remarks>
internal sealed class BatchingSocketStream(Stream socket) : Stream
{
    /// <summary>The most one read from the socket takes.</summary>
    public const int ReadBufferBytes = 256 * 1024;

    /// <summary>The most written records gathered before they go out without a flush.</summary>
    public const int WriteBufferBytes = 256 * 1024;

    private byte[]? _read;
    private byte[]? _write;
    private int _readStart;
    private int _readEnd;
    private int _written;

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>From here on reads and writes go through the buffers. Called once the handshake is done, with no read or write under way.</summary>
    public void StartBatching()
    {
        _read ??= GC.AllocateUninitializedArray<byte>(ReadBufferBytes);
        _write ??= GC.AllocateUninitializedArray<byte>(WriteBufferBytes);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_readStart == _readEnd)
        {
            if (_read is null || buffer.Length >= _read.Length)
            {
                return await socket.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            }

            _readStart = _readEnd = 0;
            _readEnd = await socket.ReadAsync(_read, cancellationToken).ConfigureAwait(false);
        }

        return TakeRead(buffer.Span);
    }

    public override int Read(Span<byte> buffer)
    {
        if (_readStart == _readEnd)
        {
            if (_read is null)
            {
                return socket.Read(buffer);
            }

            _readStart = _readEnd = 0;
            _readEnd = socket.Read(_read);
        }

        return TakeRead(buffer);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_write is null)
        {
            await socket.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (_written + buffer.Length > _write.Length)
        {
            await FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        if (buffer.Length >= _write.Length)
        {
            await socket.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            return;
        }

        buffer.Span.CopyTo(_write.AsSpan(_written));
        _written += buffer.Length;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        Flush();
        socket.Write(buffer);
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_written > 0)
        {
            int written = _written;
            _written = 0;
            await socket.WriteAsync(_write!.AsMemory(0, written), cancellationToken).ConfigureAwait(false);
        }
    }

    public override void Flush()
    {
        if (_written > 0)
        {
            int written = _written;
            _written = 0;
            socket.Write(_write!.AsSpan(0, written));
        }
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            socket.Dispose();
        }

        base.Dispose(disposing);
    }

    private int TakeRead(Span<byte> buffer)
    {
        int taken = Math.Min(buffer.Length, _readEnd - _readStart);
        _read!.AsSpan(_readStart, taken).CopyTo(buffer);
        _readStart += taken;
        return taken;
    }
}
