using System.Buffers;
using System.Net.Sockets;
using System.Threading.Channels;
using Replicator.Core.Epochs;
using Replicator.Protocol.Framing;

namespace Replicator.Runtime.Links;

/// <summary>
/// One TCP connection between primary and secondary, as frames, over the link's stream (TLS with
/// the pair key, see <see cref="LinkTransport"/>). Sending appends the frame to a
/// pending batch under a lock and wakes the send loop, which writes everything gathered since its
/// last write in one socket call: small frames batch themselves under load and go out at once when
/// idle. Receiving cuts frames out of a pooled buffer and hands each to the caller, who must copy
/// what it keeps before returning.
/// </summary>
/// <remarks>
/// The pending batch is bounded by the replication credit: mirrors never exceed the secondary's
/// buffer bound in flight, and control frames are small and few.
/// </remarks>
public sealed class FrameConnection : IAsyncDisposable
{
    private const int InitialReceiveBuffer = 64 * 1024;

    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly FrameReader _reader;
    private readonly FrameWriter _writer = new();
    private readonly Lock _sendLock = new();
    private readonly Channel<bool> _sendSignal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly CancellationTokenSource _closed = new();
    private readonly TimeProvider _time;
    private ArrayBufferWriter<byte> _pending = new(256 * 1024);
    private ArrayBufferWriter<byte> _sending = new(256 * 1024);
    private readonly int _maxReceiveBuffer;
    private byte[] _receiveBuffer;
    private Task _sendLoop = Task.CompletedTask;
    private int _filled;
    private long _bytesSent;
    private int _disposed;

    public FrameConnection(Socket socket, Stream stream, int maxBodyLength, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ArgumentNullException.ThrowIfNull(stream);
        _socket = socket;
        _stream = stream;
        _socket.NoDelay = true;
        RemoteEndPoint = socket.RemoteEndPoint?.ToString() ?? "?";
        _reader = new FrameReader(maxBodyLength);
        // Small until a frame needs more: a connection that sends nothing (or only a hello) costs
        // 64 KiB, and only a peer already welcomed sends the large frames that grow it.
        // In long, clamped: two of the largest frames exceed an int once the guest has 1 GiB of RAM.
        _maxReceiveBuffer = (int)Math.Clamp(2L * (maxBodyLength + (long)FrameHeader.Size), InitialReceiveBuffer, Array.MaxLength);
        _receiveBuffer = ArrayPool<byte>.Shared.Rent(InitialReceiveBuffer);
        _time = time;
        LastReceived = time.GetTimestamp();
    }

    /// <summary>Who is on the other end; kept from the start, since a closed socket no longer says.</summary>
    public string RemoteEndPoint { get; }

    /// <summary>When a frame last arrived (a <see cref="TimeProvider"/> timestamp): what heartbeat timeouts watch.</summary>
    public long LastReceived { get; private set; }

    public bool IsClosed => _closed.IsCancellationRequested;

    /// <summary>The bytes run over TLS with the pair key: a read that fails other than on the socket means forged or damaged records.</summary>
    public bool IsAuthenticated => _stream is System.Net.Security.SslStream { IsAuthenticated: true };

    /// <summary>Bytes written to the socket so far, frame headers included: what the link carried.</summary>
    public long BytesSent => Interlocked.Read(ref _bytesSent);

    public void StartSending() => _sendLoop = SendLoopAsync();

    public void SendMirror(in MirrorRecord record)
    {
        lock (_sendLock)
        {
            _writer.WriteMirror(_pending, record);
        }

        _sendSignal.Writer.TryWrite(true);
    }

    public void SendControl<T>(FrameType type, T message)
    {
        lock (_sendLock)
        {
            _writer.WriteControl(_pending, type, message);
        }

        _sendSignal.Writer.TryWrite(true);
    }

    /// <summary>Reads one frame synchronously from the socket (handshake use); null if the peer closed.</summary>
    public async Task<T?> ReceiveOneAsync<T>(Func<Frame, T> decode, CancellationToken cancellation)
        where T : class
    {
        T? result = null;
        await ReceiveAsync(frame => { result = decode(frame); return false; }, cancellation).ConfigureAwait(false);
        return result;
    }

    /// <summary>
    /// Receives frames and passes each to <paramref name="handle"/> until it returns false, the peer
    /// closes, or the connection is closed. A bad frame throws <see cref="ProtocolViolationException"/>.
    /// </summary>
    public async Task ReceiveAsync(Func<Frame, bool> handle, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(handle);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellation, _closed.Token);
        while (true)
        {
            var sequence = new ReadOnlySequence<byte>(_receiveBuffer, 0, _filled);
            bool more = true;
            while (more && _reader.TryRead(ref sequence, out Frame frame))
            {
                LastReceived = _time.GetTimestamp();
                more = handle(frame);
            }

            // Bytes behind the last frame taken stay at the front of the buffer for the next call.
            int consumed = _filled - (int)sequence.Length;
            Buffer.BlockCopy(_receiveBuffer, consumed, _receiveBuffer, 0, _filled - consumed);
            _filled -= consumed;
            if (!more)
            {
                return;
            }

            if (_filled == _receiveBuffer.Length)
            {
                GrowReceiveBuffer();
            }

            int read = await _stream.ReadAsync(_receiveBuffer.AsMemory(_filled), linked.Token).ConfigureAwait(false);
            if (read == 0)
            {
                return;
            }

            _filled += read;
        }
    }

    /// <summary>
    /// Sends a last <c>Error</c> frame (best effort) and closes. <paramref name="fenced"/> tells a
    /// primary that this node will never follow it again (see <see cref="Protocol.Messages.ErrorMessage.Fenced"/>).
    /// Safe to call at any time, also after <see cref="DisposeAsync"/>.
    /// </summary>
    public async Task CloseAsync(string? reason, bool fenced = false)
    {
        if (reason is not null && !IsClosed)
        {
            SendControl(FrameType.Error, new Protocol.Messages.ErrorMessage { Reason = reason, Fenced = fenced });
            _sendSignal.Writer.TryComplete();
            try
            {
                await _sendLoop.WaitAsync(TimeSpan.FromSeconds(2), _time).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TimeoutException or SocketException or IOException or ObjectDisposedException or OperationCanceledException)
            {
                // The peer may be gone already; the reason is logged by the caller either way.
            }
        }

        try
        {
            await _closed.CancelAsync().ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            // Disposed already: a heartbeat or a peer's error raced the owner's disposal; it is closed.
        }

        _sendSignal.Writer.TryComplete();
        _socket.Dispose();
        await _stream.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Closes and returns the receive buffer to its pool; a second call does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await CloseAsync(null).ConfigureAwait(false);
        await _sendLoop.ConfigureAwait(false);
        _closed.Dispose();
        ArrayPool<byte>.Shared.Return(_receiveBuffer);
    }

    /// <summary>A frame larger than the buffer is arriving: double it, up to two of the largest frames.</summary>
    private void GrowReceiveBuffer()
    {
        // The reader refuses a header announcing more than the largest frame, so a full buffer at the
        // bound always holds a whole frame and this is never reached there.
        int size = Math.Min(_maxReceiveBuffer, _receiveBuffer.Length * 2);
        if (size <= _receiveBuffer.Length)
        {
            throw new ProtocolViolationException($"a frame does not fit in {_receiveBuffer.Length} bytes");
        }

        byte[] larger = ArrayPool<byte>.Shared.Rent(size);
        Buffer.BlockCopy(_receiveBuffer, 0, larger, 0, _filled);
        ArrayPool<byte>.Shared.Return(_receiveBuffer);
        _receiveBuffer = larger;
    }

    private async Task SendLoopAsync()
    {
        try
        {
            while (await _sendSignal.Reader.WaitToReadAsync(_closed.Token).ConfigureAwait(false))
            {
                _sendSignal.Reader.TryRead(out _);
                lock (_sendLock)
                {
                    (_pending, _sending) = (_sending, _pending);
                }

                if (_sending.WrittenCount > 0)
                {
                    await _stream.WriteAsync(_sending.WrittenMemory, _closed.Token).ConfigureAwait(false);
                    Interlocked.Add(ref _bytesSent, _sending.WrittenCount);
                    _sending.ResetWrittenCount();
                }
            }

            // Completed: flush whatever is left (the closing Error frame).
            lock (_sendLock)
            {
                (_pending, _sending) = (_sending, _pending);
            }

            if (_sending.WrittenCount > 0)
            {
                await _stream.WriteAsync(_sending.WrittenMemory, _closed.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            await _closed.CancelAsync().ConfigureAwait(false);
        }
    }
}
