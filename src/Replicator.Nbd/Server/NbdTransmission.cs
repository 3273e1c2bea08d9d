using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Replicator.Nbd.Logging;
using Replicator.Nbd.Protocol;

namespace Replicator.Nbd.Server;

/// <summary>
/// The transmission phase of one connection. The receive loop reads requests and hands each to the
/// backend without waiting for earlier ones; each reply (header and any read data or extents, in
/// one pooled buffer) goes out as one write under the send lock, in whatever order the backend
/// finishes. A client that negotiated structured replies gets its reads as chunks (zero blocks as
/// holes), its block status as one chunk, and its errors with a message; everything else is
/// answered with simple replies, which the protocol allows for replies without a payload.
/// </summary>
internal sealed class NbdTransmission : IDisposable
{
    /// <summary>
    /// An oversized write's payload is read and discarded up to this length, so the client gets
    /// EINVAL and the stream stays in step; the protocol asks servers to treat anything shorter than
    /// 32 MiB as an honest mistake. Longer ones close the connection.
    /// </summary>
    public const uint MaxSkippedPayload = 32 << 20;

    /// <summary>Extents one block status reply carries at most (8 KiB of descriptors); the client asks again for the rest.</summary>
    public const int MaxExtentsPerReply = 1024;

    private const int SkipChunkBytes = 64 << 10;

    /// <summary>
    /// Request buffers, for every connection of the process. Not <see cref="ArrayPool{T}.Shared"/>:
    /// a buffer is rented on a connection's receive loop and returned on whichever thread sent its
    /// reply, and the shared pool files such returns under that thread, where the receive loop never
    /// finds them (and drops them all at every full collection), so each large request became a new
    /// array. This pool keeps what comes back, up to <see cref="MaxBuffersPerSize"/> per size class,
    /// so it holds no more than the most requests that were in flight at once, which the server's
    /// in-flight budget bounds.
    /// </summary>
    private static readonly ArrayPool<byte> RequestBuffers = ArrayPool<byte>.Create(MaxPooledBufferBytes, MaxBuffersPerSize);

    /// <summary>Buffers kept per size class (powers of two).</summary>
    internal const int MaxBuffersPerSize = 256;

    /// <summary>Requests needing more than this (past the default maximum payload) get a buffer of their own.</summary>
    internal const int MaxPooledBufferBytes = 64 << 20;

    /// <summary>
    /// Room kept before a request's data in its buffer: a structured read's first chunk header,
    /// and more than a simple reply's header, which is written just before the data.
    /// </summary>
    private const int ReplyPrefix = NbdStructuredReply.DataChunkPrefix;
    private const int SimpleHeaderAt = ReplyPrefix - NbdSimpleReply.HeaderSize;
    private const int ChunkHeaderAt = ReplyPrefix - NbdStructuredReply.HeaderSize;

    private readonly long _connectionId;
    private readonly Stream _input;
    private readonly Stream _output;
    private readonly INbdBackend _backend;
    private readonly NbdExport _export;
    private readonly NegotiatedFeatures _features;
    private readonly NbdRequestValidator _validator;
    private readonly InFlightBudget _budget;
    private readonly ServerInFlightBudget _serverBudget;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _abort;
    private readonly SemaphoreSlim _sendLock = new(1, 1);

    public NbdTransmission(
        long connectionId,
        Stream input,
        Stream output,
        INbdBackend backend,
        NbdExport export,
        NegotiatedFeatures features,
        InFlightBudget budget,
        ServerInFlightBudget serverBudget,
        ILogger logger,
        CancellationTokenSource abort)
    {
        _connectionId = connectionId;
        _input = input;
        _output = output;
        _backend = backend;
        _export = export;
        _features = features;
        _validator = new NbdRequestValidator(export.Size, export.MaximumBlockSize, export.ReadOnly, features);
        _budget = budget;
        _serverBudget = serverBudget;
        _logger = logger;
        _abort = abort;
    }

    /// <summary>Receives requests until the client disconnects; returns why it stopped. Throws on a protocol violation.</summary>
    public async Task<string> ReceiveAsync(CancellationToken cancellationToken)
    {
        byte[] header = new byte[NbdRequest.Size];
        while (true)
        {
            await _input.ReadExactlyAsync(header, cancellationToken).ConfigureAwait(false);
            if (!NbdRequest.TryRead(header, out NbdRequest request, out uint magic))
            {
                throw new NbdProtocolViolationException($"request magic 0x{magic:x8} is not 0x{NbdMagic.Request:x8}: the stream is out of step");
            }

            if (request.Command == NbdCommand.Disconnect)
            {
                return "the client sent NBD_CMD_DISC";
            }

            await ReceiveOneAsync(request, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Call only once idle: replies in flight hold the send lock.</summary>
    public void Dispose() => _sendLock.Dispose();

    /// <summary>Completes when every received request has been answered (or abandoned on abort).</summary>
    public Task WhenIdleAsync(CancellationToken cancellationToken) => _budget.WhenIdleAsync(cancellationToken);

    private async Task ReceiveOneAsync(NbdRequest request, CancellationToken cancellationToken)
    {
        NbdError error = _validator.Validate(request);
        bool isWrite = request.Command == NbdCommand.Write;
        if (isWrite && request.Length > (uint)_export.MaximumBlockSize)
        {
            // Refused already (EINVAL or EPERM); its payload still has to come off the wire.
            if (request.Length > MaxSkippedPayload)
            {
                throw new NbdProtocolViolationException($"a write of {request.Length} bytes is far beyond the {_export.MaximumBlockSize}-byte maximum");
            }

            await SkipAsync(request.Length, cancellationToken).ConfigureAwait(false);
            isWrite = false;
        }

        // One buffer per request: room for the reply's header, then the write payload, the read data
        // or the block status descriptors.
        int bufferBytes = ReplyPrefix + DataBytes(request, error, isWrite);
        await EnterBudgetsAsync(bufferBytes, cancellationToken).ConfigureAwait(false);
        byte[] buffer = RequestBuffers.Rent(bufferBytes);
        try
        {
            if (isWrite)
            {
                await _input.ReadExactlyAsync(buffer.AsMemory(ReplyPrefix, (int)request.Length), cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            RequestBuffers.Return(buffer);
            ExitBudgets(bufferBytes);
            throw;
        }

        // Not awaited: the next request is read while this one runs. It reports its own failures.
        _ = ProcessAsync(request, error, buffer, bufferBytes);
    }

    /// <summary>What a request needs after the reply prefix: its payload, its read data, or room for its extents.</summary>
    private static int DataBytes(in NbdRequest request, NbdError error, bool isWrite)
    {
        if (isWrite)
        {
            return (int)request.Length;
        }

        if (error != NbdError.None)
        {
            return 0;
        }

        return request.Command switch
        {
            NbdCommand.Read => (int)request.Length,
            NbdCommand.BlockStatus => 4 + (8 * MaxExtents(request)),
            _ => 0,
        };
    }

    /// <summary>REQ_ONE asks for one extent; otherwise at most one per sector, and at most <see cref="MaxExtentsPerReply"/>.</summary>
    private static int MaxExtents(in NbdRequest request) =>
        request.Flags.HasFlag(NbdCommandFlags.RequestOne) ? 1 : (int)Math.Min(MaxExtentsPerReply, request.Length / NbdExport.MinimumBlockSize);

    private async Task ProcessAsync(NbdRequest request, NbdError error, byte[] buffer, int bufferBytes)
    {
        try
        {
            int extents = 0;
            if (error == NbdError.None)
            {
                (error, extents) = await ExecuteAsync(request, buffer).ConfigureAwait(false);
            }
            else
            {
                _logger.Refused(_connectionId, request.Command, request.Offset, request.Length, request.Flags, error);
            }

            ReadOnlyMemory<byte> reply = error == NbdError.None ? SuccessReply(request, buffer, extents) : ErrorReply(request, error, buffer);
            await SendAsync(reply).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The client went away or the connection was aborted: nothing more can be sent on it.
            if (!_abort.IsCancellationRequested)
            {
                _logger.SendFailed(_connectionId, ex);
                await _abort.CancelAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            RequestBuffers.Return(buffer);
            ExitBudgets(bufferBytes);
        }
    }

    /// <summary>The reply to a request that succeeded, laid out in its buffer.</summary>
    private ReadOnlyMemory<byte> SuccessReply(in NbdRequest request, byte[] buffer, int extents)
    {
        switch (request.Command)
        {
            case NbdCommand.Read when _features.StructuredReplies:
                bool allowHoles = !request.Flags.HasFlag(NbdCommandFlags.DontFragment);
                return buffer.AsMemory(0, SparseReadReply.Lay(buffer, request.Handle, (long)request.Offset, (int)request.Length, allowHoles));
            case NbdCommand.Read:
                NbdSimpleReply.WriteHeader(buffer.AsSpan(SimpleHeaderAt), NbdError.None, request.Handle);
                return buffer.AsMemory(SimpleHeaderAt, NbdSimpleReply.HeaderSize + (int)request.Length);
            case NbdCommand.BlockStatus:
                int payload = 4 + (8 * extents);
                NbdStructuredReply.WriteHeader(buffer.AsSpan(ChunkHeaderAt), done: true, NbdReplyChunkType.BlockStatus, request.Handle, payload);
                return buffer.AsMemory(ChunkHeaderAt, NbdStructuredReply.HeaderSize + payload);
            default:
                NbdSimpleReply.WriteHeader(buffer.AsSpan(SimpleHeaderAt), NbdError.None, request.Handle);
                return buffer.AsMemory(SimpleHeaderAt, NbdSimpleReply.HeaderSize);
        }
    }

    /// <summary>
    /// The reply to a request that failed: a simple reply without data, or, for a client that
    /// negotiated structured replies, an error chunk with a message (the protocol forbids a simple
    /// reply to a read then, and prefers the chunk for the rest). Errors are off the hot path: the
    /// chunk has its own small array.
    /// </summary>
    private ReadOnlyMemory<byte> ErrorReply(in NbdRequest request, NbdError error, byte[] buffer)
    {
        if (!_features.StructuredReplies)
        {
            NbdSimpleReply.WriteHeader(buffer.AsSpan(SimpleHeaderAt), error, request.Handle);
            return buffer.AsMemory(SimpleHeaderAt, NbdSimpleReply.HeaderSize);
        }

        byte[] message = Encoding.UTF8.GetBytes(NbdErrorText.Describe(request.Command, error));
        byte[] chunk = new byte[NbdStructuredReply.HeaderSize + 6 + message.Length];
        NbdStructuredReply.WriteHeader(chunk, done: true, NbdReplyChunkType.Error, request.Handle, 6 + message.Length);
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(NbdStructuredReply.HeaderSize), (uint)error);
        BinaryPrimitives.WriteUInt16BigEndian(chunk.AsSpan(NbdStructuredReply.HeaderSize + 4), (ushort)message.Length);
        message.CopyTo(chunk, NbdStructuredReply.HeaderSize + 6);
        return chunk;
    }

    /// <summary>
    /// The connection's own budget first, then the server's: waiting on either is the receive loop
    /// not reading. A wait that is canceled (stop, abort) gives back what it took. The connection's
    /// only request in flight never waits for the server's budget: it cannot be what holds it.
    /// </summary>
    private async Task EnterBudgetsAsync(int bytes, CancellationToken cancellationToken)
    {
        await _budget.EnterAsync(bytes, cancellationToken).ConfigureAwait(false);
        try
        {
            if (_budget.Requests == 1)
            {
                _serverBudget.EnterRegardless(bytes);
            }
            else if (!_serverBudget.TryEnter(bytes))
            {
                await WaitForServerBudgetAsync(bytes, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            _budget.Exit(bytes);
            throw;
        }
    }

    /// <summary>
    /// Waits for the server's budget, or until the connection's earlier requests have all replied
    /// (a client that reads its replies sends the next request as soon as it has one, which can be
    /// before the server has given the last one's bytes back): then this one is alone and goes in
    /// regardless, so a client that reads is never left behind clients that do not.
    /// </summary>
    private async Task WaitForServerBudgetAsync(int bytes, CancellationToken cancellationToken)
    {
        using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task granted = _serverBudget.EnterAsync(bytes, giveUp.Token);
        Task alone = _budget.WhenAloneAsync(giveUp.Token);
        await Task.WhenAny(granted, alone).ConfigureAwait(false);

        // Takes the losing wait out: the connection's budget has room for one waiter (this loop), and
        // a waiter left in the server's queue would hold back every connection behind it.
        await giveUp.CancelAsync().ConfigureAwait(false);
        try
        {
            await granted.ConfigureAwait(false); // granted, even if just before the cancel
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            _serverBudget.EnterRegardless(bytes);
        }
    }

    /// <summary>The server's bytes first, so that a connection found idle holds none of them.</summary>
    private void ExitBudgets(int bytes)
    {
        _serverBudget.Exit(bytes);
        _budget.Exit(bytes);
    }

    /// <summary>Runs a valid request on the backend; the error the client gets, and for block status the extents written.</summary>
    private async Task<(NbdError Error, int Extents)> ExecuteAsync(NbdRequest request, byte[] buffer)
    {
        long offset = (long)request.Offset;
        bool fua = request.Flags.HasFlag(NbdCommandFlags.Fua);
        CancellationToken abort = _abort.Token;
        try
        {
            switch (request.Command)
            {
                case NbdCommand.Read:
                    await ReadAsync(offset, buffer.AsMemory(ReplyPrefix, (int)request.Length), abort).ConfigureAwait(false);
                    break;
                case NbdCommand.Write:
                    await WriteAsync(offset, buffer.AsMemory(ReplyPrefix, (int)request.Length), fua, abort).ConfigureAwait(false);
                    break;
                case NbdCommand.WriteZeroes:
                    // FAST_ZERO fails before touching anything when zeroing costs as much as writing.
                    if (request.Flags.HasFlag(NbdCommandFlags.FastZero) && !_backend.ZeroesFast)
                    {
                        return (NbdError.NotSupported, 0);
                    }

                    // NO_HOLE needs nothing: the backend's zeroes never punch holes.
                    await WriteZeroesAsync(offset, request.Length, fua, abort).ConfigureAwait(false);
                    break;
                case NbdCommand.Trim:
                    await TrimAsync(offset, request.Length, fua, abort).ConfigureAwait(false);
                    break;
                case NbdCommand.Flush:
                    await _backend.FlushAsync(abort).ConfigureAwait(false);
                    break;
                case NbdCommand.Cache:
                    await _backend.PrefetchAsync(offset, request.Length, abort).ConfigureAwait(false);
                    if (fua)
                    {
                        await _backend.FlushAsync(abort).ConfigureAwait(false);
                    }

                    break;
                case NbdCommand.BlockStatus:
                    return await DescribeAllocationAsync(request, buffer, abort).ConfigureAwait(false);
                default:
                    return (NbdError.Invalid, 0); // the validator lets no other command through
            }

            return (NbdError.None, 0);
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            return (NbdError.Shutdown, 0);
        }
        catch (NbdBackendException ex)
        {
            _logger.BackendFailed(_connectionId, request.Command, request.Offset, request.Length, ex.Error, ex);
            return (ex.Error, 0);
        }
#pragma warning disable CA1031 // Any backend failure is that request's EIO; the connection and server stay up.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _logger.BackendFailed(_connectionId, request.Command, request.Offset, request.Length, NbdError.IoError, ex);
            return (NbdError.IoError, 0);
        }
    }

    /// <summary>A read longer than the backend's largest call is read as pieces into the one buffer.</summary>
    private ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken) =>
        destination.Length <= _export.BackendRequestBytes
            ? _backend.ReadAsync(offset, destination, cancellationToken)
            : new ValueTask(RangeSplitter.RunAsync(offset, destination.Length, _export.BackendRequestBytes, (pieceOffset, pieceLength) =>
                _backend.ReadAsync(pieceOffset, destination.Slice((int)(pieceOffset - offset), pieceLength), cancellationToken)));

    /// <summary>
    /// A write longer than the backend's largest call is written as pieces; FUA goes with every
    /// piece, so all are durable before the one reply. Like any write in flight, a crash or a
    /// failover before the reply may keep some pieces and not others.
    /// </summary>
    private ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, bool fua, CancellationToken cancellationToken) =>
        data.Length <= _export.BackendRequestBytes
            ? _backend.WriteAsync(offset, data, fua, cancellationToken)
            : new ValueTask(RangeSplitter.RunAsync(offset, data.Length, _export.BackendRequestBytes, (pieceOffset, pieceLength) =>
                _backend.WriteAsync(pieceOffset, data.Slice((int)(pieceOffset - offset), pieceLength), fua, cancellationToken)));

    /// <summary>
    /// Asks the backend for the extents and writes them as descriptors after the context id. What
    /// the backend answers is checked: extents that are empty, too many, or reach past the request
    /// are its bug, answered as EIO rather than passed to the client.
    /// </summary>
    private async Task<(NbdError Error, int Extents)> DescribeAllocationAsync(NbdRequest request, byte[] buffer, CancellationToken cancellationToken)
    {
        int capacity = MaxExtents(request);
        NbdExtent[] extents = ArrayPool<NbdExtent>.Shared.Rent(capacity);
        try
        {
            int count = await _backend.DescribeAllocationAsync((long)request.Offset, request.Length, extents.AsMemory(0, capacity), cancellationToken).ConfigureAwait(false);
            if (!BlockStatusReply.TryWrite(extents.AsSpan(0, Math.Clamp(count, 0, capacity)), count, request.Length, buffer.AsSpan(ReplyPrefix), out string? problem))
            {
                throw new InvalidOperationException($"the backend described the allocation wrongly: {problem}");
            }

            return (NbdError.None, count);
        }
        finally
        {
            ArrayPool<NbdExtent>.Shared.Return(extents);
        }
    }

    /// <summary>
    /// A write-zeroes may exceed the backend's largest request (no payload travels with it): split
    /// it. FUA goes with every piece, so each piece is durable before the one reply is sent.
    /// </summary>
    private ValueTask WriteZeroesAsync(long offset, uint length, bool fua, CancellationToken cancellationToken) =>
        length <= (uint)_export.BackendRequestBytes
            ? _backend.WriteZeroesAsync(offset, (int)length, fua, cancellationToken)
            : new ValueTask(SplitWriteZeroesAsync(offset, length, fua, cancellationToken));

    // Separate from the caller so that only a split request pays for the lambda's closure.
    private Task SplitWriteZeroesAsync(long offset, uint length, bool fua, CancellationToken cancellationToken) =>
        RangeSplitter.RunAsync(offset, length, _export.BackendRequestBytes, (pieceOffset, pieceLength) =>
            _backend.WriteZeroesAsync(pieceOffset, pieceLength, fua, cancellationToken));

    /// <summary>
    /// A trim may exceed the backend's largest request too: split it. The backend's trim takes no
    /// FUA (the replica models a trim as zeroes, and the write filter refuses FUA on one), so FUA
    /// becomes one flush once every piece has finished.
    /// </summary>
    private async Task TrimAsync(long offset, uint length, bool fua, CancellationToken cancellationToken)
    {
        if (length <= (uint)_export.BackendRequestBytes)
        {
            await _backend.TrimAsync(offset, (int)length, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await SplitTrimAsync(offset, length, cancellationToken).ConfigureAwait(false);
        }

        if (fua)
        {
            await _backend.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private Task SplitTrimAsync(long offset, uint length, CancellationToken cancellationToken) =>
        RangeSplitter.RunAsync(offset, length, _export.BackendRequestBytes, (pieceOffset, pieceLength) =>
            _backend.TrimAsync(pieceOffset, pieceLength, cancellationToken));

    private async Task SendAsync(ReadOnlyMemory<byte> reply)
    {
        await _sendLock.WaitAsync(_abort.Token).ConfigureAwait(false);
        try
        {
            await _output.WriteAsync(reply, _abort.Token).ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private async Task SkipAsync(uint length, CancellationToken cancellationToken)
    {
        byte[] scratch = ArrayPool<byte>.Shared.Rent(SkipChunkBytes);
        try
        {
            while (length > 0)
            {
                int chunk = (int)Math.Min(length, (uint)scratch.Length);
                await _input.ReadExactlyAsync(scratch.AsMemory(0, chunk), cancellationToken).ConfigureAwait(false);
                length -= (uint)chunk;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }
}
