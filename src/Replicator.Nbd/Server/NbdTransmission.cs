using System.Buffers;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Replicator.Nbd.Logging;
using Replicator.Nbd.Protocol;

namespace Replicator.Nbd.Server;

/// <summary>
/// The transmission phase of one connection. The receive loop reads requests and hands each to the
/// backend without waiting for earlier ones; each reply (header and any read data, in one pooled
/// buffer) goes out as one write under the send lock, in whatever order the backend finishes.
/// </summary>
internal sealed class NbdTransmission : IDisposable
{
    /// <summary>
    /// An oversized write's payload is read and discarded up to this length, so the client gets
    /// EINVAL and the stream stays in step; the protocol asks servers to treat anything shorter than
    /// 32 MiB as an honest mistake. Longer ones close the connection.
    /// </summary>
    public const uint MaxSkippedPayload = 32 << 20;

    private const int SkipChunkBytes = 64 << 10;
    private const int HeaderSize = NbdSimpleReply.HeaderSize;

    private readonly long _connectionId;
    private readonly Stream _input;
    private readonly Stream _output;
    private readonly INbdBackend _backend;
    private readonly NbdExport _export;
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
        _validator = new NbdRequestValidator(export.Size, export.MaximumBlockSize, export.ReadOnly);
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

        // One buffer per request: the reply header, then the write payload or the read data.
        int dataBytes = isWrite || (request.Command == NbdCommand.Read && error == NbdError.None) ? (int)request.Length : 0;
        int bufferBytes = HeaderSize + dataBytes;
        await EnterBudgetsAsync(bufferBytes, cancellationToken).ConfigureAwait(false);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(bufferBytes);
        try
        {
            if (isWrite)
            {
                await _input.ReadExactlyAsync(buffer.AsMemory(HeaderSize, dataBytes), cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            ExitBudgets(bufferBytes);
            throw;
        }

        // Not awaited: the next request is read while this one runs. It reports its own failures.
        _ = ProcessAsync(request, error, buffer, bufferBytes);
    }

    private async Task ProcessAsync(NbdRequest request, NbdError error, byte[] buffer, int bufferBytes)
    {
        try
        {
            if (error == NbdError.None)
            {
                error = await ExecuteAsync(request, buffer).ConfigureAwait(false);
            }
            else
            {
                _logger.Refused(_connectionId, request.Command, request.Offset, request.Length, request.Flags, error);
            }

            int replyBytes = HeaderSize + (request.Command == NbdCommand.Read && error == NbdError.None ? (int)request.Length : 0);
            NbdSimpleReply.WriteHeader(buffer, error, request.Handle);
            await SendAsync(buffer.AsMemory(0, replyBytes)).ConfigureAwait(false);
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
            ArrayPool<byte>.Shared.Return(buffer);
            ExitBudgets(bufferBytes);
        }
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

    private async Task<NbdError> ExecuteAsync(NbdRequest request, byte[] buffer)
    {
        long offset = (long)request.Offset;
        bool fua = request.Flags.HasFlag(NbdCommandFlags.Fua);
        CancellationToken abort = _abort.Token;
        try
        {
            switch (request.Command)
            {
                case NbdCommand.Read:
                    await _backend.ReadAsync(offset, buffer.AsMemory(HeaderSize, (int)request.Length), abort).ConfigureAwait(false);
                    break;
                case NbdCommand.Write:
                    await _backend.WriteAsync(offset, buffer.AsMemory(HeaderSize, (int)request.Length), fua, abort).ConfigureAwait(false);
                    break;
                case NbdCommand.WriteZeroes:
                    // NO_HOLE needs nothing: the backend's zeroes are always allocated.
                    await WriteZeroesAsync(offset, request.Length, fua, abort).ConfigureAwait(false);
                    break;
                case NbdCommand.Trim:
                    await TrimAsync(offset, request.Length, fua, abort).ConfigureAwait(false);
                    break;
                case NbdCommand.Flush:
                    await _backend.FlushAsync(abort).ConfigureAwait(false);
                    break;
                default:
                    return NbdError.Invalid; // the validator lets no other command through
            }

            return NbdError.None;
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            return NbdError.Shutdown;
        }
        catch (NbdBackendException ex)
        {
            _logger.BackendFailed(_connectionId, request.Command, request.Offset, request.Length, ex.Error, ex);
            return ex.Error;
        }
#pragma warning disable CA1031 // Any backend failure is that request's EIO; the connection and server stay up.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _logger.BackendFailed(_connectionId, request.Command, request.Offset, request.Length, NbdError.IoError, ex);
            return NbdError.IoError;
        }
    }

    /// <summary>
    /// A write-zeroes may exceed the backend's largest request (no payload travels with it): split
    /// it. FUA goes with every piece, so each piece is durable before the one reply is sent.
    /// </summary>
    private ValueTask WriteZeroesAsync(long offset, uint length, bool fua, CancellationToken cancellationToken) =>
        length <= (uint)_export.MaximumBlockSize
            ? _backend.WriteZeroesAsync(offset, (int)length, fua, cancellationToken)
            : new ValueTask(SplitWriteZeroesAsync(offset, length, fua, cancellationToken));

    // Separate from the caller so that only a split request pays for the lambda's closure.
    private Task SplitWriteZeroesAsync(long offset, uint length, bool fua, CancellationToken cancellationToken) =>
        RangeSplitter.RunAsync(offset, length, _export.MaximumBlockSize, (pieceOffset, pieceLength) =>
            _backend.WriteZeroesAsync(pieceOffset, pieceLength, fua, cancellationToken));

    /// <summary>
    /// A trim may exceed the backend's largest request too: split it. The backend's trim takes no
    /// FUA (the replica models a trim as zeroes, and the write filter refuses FUA on one), so FUA
    /// becomes one flush once every piece has finished.
    /// </summary>
    private async Task TrimAsync(long offset, uint length, bool fua, CancellationToken cancellationToken)
    {
        if (length <= (uint)_export.MaximumBlockSize)
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
        RangeSplitter.RunAsync(offset, length, _export.MaximumBlockSize, (pieceOffset, pieceLength) =>
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
