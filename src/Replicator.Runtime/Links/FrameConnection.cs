using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Replicator.Core.Epochs;
using Replicator.Protocol.Framing;

namespace Replicator.Runtime.Links;

/// <summary>
/// One TCP connection between primary and secondary, as frames, over the link's stream (TLS with
/// the pair key, see <see cref="LinkTransport"/>). Sending encodes the frame, under a lock, straight
/// into a <see cref="Pipe"/> of pooled segments; the send loop writes whatever the pipe holds, one
/// segment after another, and gives the segments back: small frames batch themselves under load
/// and go out at once when idle, and nothing is copied twice or grown in place. Receiving cuts
/// frames out of a pooled buffer and hands each to the caller, who must copy what it keeps before
/// returning.
/// </summary>
/// <remarks>
/// What the pipe holds is bounded by the replication credit: mirrors never exceed the secondary's
/// buffer bound in flight, and control frames are small and few. So the pipe never makes a sender
/// wait (its pause threshold is off); its segments come from a pool of their own, which keeps no
/// more than the most that were in use at once.
/// <para>
/// Mirror records may gather in the pipe before the send loop is woken: up to the connection's
/// mirror batch, or until the next control frame, which takes them out ahead of itself. Nothing
/// waits on a mirror record alone — the secondary commits an epoch only at its checkpoint, a
/// control frame — so a record held back costs no latency anyone sees, while a guest writing one
/// small block at a time no longer pays a wake-up, a TLS record and a system call per write on
/// this side and a wake-up per record on the other. The heartbeat, a control frame too, bounds how
/// long a record can wait when no checkpoint comes.
/// </para>
/// </remarks>
public sealed class FrameConnection : IAsyncDisposable
{
    /// <summary>What one read from the stream takes at most: the receive pipe's segment size.</summary>
    private const int ReceiveSegmentBytes = 64 * 1024;

    // Rented and returned on the receive loop; a pool of its own all the same, so what a burst of
    // large frames took is kept for the next one rather than dropped at a full collection.
    private static readonly PayloadPool ReceiveSegments = new();

    /// <summary>The smallest segment of the send pipe: frames share one (with 64 KiB segments each large frame took its own, and a socket write of its own: 1.6 times the bare socket's cost per 64 KiB frame against 1.3 times now, LinkThroughputBenchmarks).</summary>
    private const int SendSegmentBytes = 1024 * 1024;

    // Segments are rented on the caller's thread and returned on the send loop's: a pool that keeps
    // what comes back wherever it comes back (not the shared array pool, see PayloadPool).
    private static readonly PayloadPool SendSegments = new();

    // Mirror bytes that may gather unpublished in the send pipe; 0: each record goes at once.
    private readonly int _mirrorBatchBytes;
    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly FrameReader _reader;
    private int _frameArriving;
    private readonly FrameWriter _writer;
    private readonly Lock _sendLock = new();
    private readonly Pipe _send = new(new PipeOptions(pool: SendSegments, pauseWriterThreshold: 0, minimumSegmentSize: SendSegmentBytes, useSynchronizationContext: false));
    private readonly CancellationTokenSource _closed = new();
    private readonly TimeProvider _time;
    private bool _sendCompleted;
    private readonly PipeReader _received;
    private Task _sendLoop = Task.CompletedTask;
    private long _bytesSent;
    private int _disposed;

    /// <summary>Frames over <paramref name="stream"/>, the link's stream on <paramref name="socket"/>.</summary>
    /// <param name="socket">The connection's socket.</param>
    /// <param name="stream">The link's stream over it: TLS with the pair key, or the plain socket.</param>
    /// <param name="maxBodyLength">The largest frame body accepted from the peer.</param>
    /// <param name="time">Stamps when frames arrive.</param>
    /// <param name="mirrorBatchBytes">Mirror bytes that may gather before the send loop is woken (see the remarks); 0 sends each record at once.</param>
    public FrameConnection(Socket socket, Stream stream, int maxBodyLength, TimeProvider time, int mirrorBatchBytes = 0)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegative(mirrorBatchBytes);
        _mirrorBatchBytes = mirrorBatchBytes;
        _socket = socket;
        _stream = stream;
        _socket.NoDelay = true;
        RemoteEndPoint = socket.RemoteEndPoint?.ToString() ?? "?";
        // Over TLS every record is checked by its AEAD tag: a frame checksum on top would hash each
        // payload once more on each side for nothing (the link is TLS or plain at both ends alike).
        Integrity = stream is System.Net.Security.SslStream ? FrameIntegrity.Transport : FrameIntegrity.Checksum;
        _writer = new FrameWriter(Integrity);
        _reader = new FrameReader(maxBodyLength, Integrity);
        // Nothing until bytes arrive, then a segment per read: a connection holds what one read
        // brought plus the frame it is in the middle of, and the reader refuses a header that
        // announces more than the largest frame before any of its body is buffered.
        _received = PipeReader.Create(stream, new StreamPipeReaderOptions(pool: ReceiveSegments, bufferSize: ReceiveSegmentBytes, minimumReadSize: ReceiveSegmentBytes / 4, leaveOpen: true));
        _time = time;
        LastReceived = time.GetTimestamp();
    }

    /// <summary>Who is on the other end; kept from the start, since a closed socket no longer says.</summary>
    public string RemoteEndPoint { get; }

    /// <summary>When a frame last arrived (a <see cref="TimeProvider"/> timestamp): what heartbeat timeouts watch.</summary>
    public long LastReceived { get; private set; }

    public bool IsClosed => _closed.IsCancellationRequested;

    /// <summary>What guards the frames: TLS's record authentication, or each frame's checksum on a plain link.</summary>
    public FrameIntegrity Integrity { get; }

    /// <summary>The bytes run over TLS with the pair key: a read that fails other than on the socket means forged or damaged records.</summary>
    public bool IsAuthenticated => _stream is System.Net.Security.SslStream { IsAuthenticated: true };

    /// <summary>Bytes written to the socket so far, frame headers included: what the link carried.</summary>
    public long BytesSent => Interlocked.Read(ref _bytesSent);

    /// <summary>Mirror bytes gathered in the send pipe that the send loop has not been given yet (see the remarks).</summary>
    public long HeldMirrorBytes
    {
        get
        {
            lock (_sendLock)
            {
                return _sendCompleted ? 0 : _send.Writer.UnflushedBytes;
            }
        }
    }

    public void StartSending() => _sendLoop = SendLoopAsync();

    public void SendMirror(in MirrorRecord record)
    {
        lock (_sendLock)
        {
            if (_sendCompleted)
            {
                return; // closed: the frame would never leave
            }

            _writer.WriteMirror(_send.Writer, record);
            if (_send.Writer.UnflushedBytes >= _mirrorBatchBytes)
            {
                Publish();
            }
        }
    }

    public void SendControl<T>(FrameType type, T message)
    {
        lock (_sendLock)
        {
            if (_sendCompleted)
            {
                return;
            }

            // Out with any mirror records gathered before it, in the order they were written.
            _writer.WriteControl(_send.Writer, type, message);
            Publish();
        }
    }

    /// <summary>Makes what was written visible to the send loop. Never waits: the pipe has no pause threshold.</summary>
    private void Publish()
    {
        ValueTask<FlushResult> flush = _send.Writer.FlushAsync(CancellationToken.None);
        if (!flush.IsCompletedSuccessfully)
        {
            // Unreachable with the pause threshold off; observed all the same, so nothing is left unawaited.
            flush.AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>No more frames: the send loop writes what the pipe holds and ends.</summary>
    private void CompleteSending()
    {
        lock (_sendLock)
        {
            if (!_sendCompleted)
            {
                _sendCompleted = true;
                _send.Writer.Complete();
            }
        }
    }

    /// <summary>
    /// Whether bytes of a frame not yet whole arrived since the last call (then cleared): a peer in
    /// the middle of sending a large frame is alive though no frame has ended.
    /// </summary>
    public bool TakeFrameArriving() => Interlocked.Exchange(ref _frameArriving, 0) == 1;

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
            ReadResult read = await _received.ReadAsync(linked.Token).ConfigureAwait(false);
            ReadOnlySequence<byte> sequence = read.Buffer;
            bool more = true;
            try
            {
                while (more && _reader.TryRead(ref sequence, out Frame frame))
                {
                    LastReceived = _time.GetTimestamp();
                    more = handle(frame);
                }
            }
            finally
            {
                if (more && sequence.Length > 0)
                {
                    // A read that left part of a frame: bytes are arriving (a read returns only with new ones).
                    Volatile.Write(ref _frameArriving, 1);
                }

                // Bytes behind the last frame taken stay in the pipe for the next call; nothing is
                // moved, and the segments of the frames taken go back to the pool. Stopped by the
                // handler, they are left unexamined, so the next call reads a whole frame already
                // there without waiting for more bytes.
                if (more)
                {
                    _received.AdvanceTo(sequence.Start, sequence.End);
                }
                else
                {
                    _received.AdvanceTo(sequence.Start);
                }
            }

            if (!more || read.IsCompleted || read.IsCanceled)
            {
                return;
            }
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
            CompleteSending();
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

        CompleteSending();
        _socket.Dispose();
        await _stream.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Closes and gives the receive pipe's segments back to their pool; a second call does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await CloseAsync(null).ConfigureAwait(false);
        await _sendLoop.ConfigureAwait(false);
        _closed.Dispose();
        await _received.CompleteAsync().ConfigureAwait(false);
    }

    private async Task SendLoopAsync()
    {
        PipeReader pending = _send.Reader;
        try
        {
            while (true)
            {
                ReadResult read = await pending.ReadAsync(_closed.Token).ConfigureAwait(false);
                ReadOnlySequence<byte> frames = read.Buffer;
                foreach (ReadOnlyMemory<byte> segment in frames)
                {
                    await _stream.WriteAsync(segment, _closed.Token).ConfigureAwait(false);
                }

                // TLS's records of the batch gather under it (BatchingSocketStream): out they go.
                await _stream.FlushAsync(_closed.Token).ConfigureAwait(false);

                Interlocked.Add(ref _bytesSent, frames.Length);
                pending.AdvanceTo(frames.End);
                if (read.IsCompleted)
                {
                    break; // completed: what was left (the closing Error frame) is written
                }
            }
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            await _closed.CancelAsync().ConfigureAwait(false);
        }
        finally
        {
            await pending.CompleteAsync().ConfigureAwait(false);
        }
    }
}
