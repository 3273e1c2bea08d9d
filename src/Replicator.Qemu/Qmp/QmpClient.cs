using System.Buffers;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace Replicator.Qemu.Qmp;

/// <summary>
/// A QMP client over one stream (QEMU's Unix socket): reads the greeting, negotiates capabilities,
/// then matches each answer to its command by id while events go to <see cref="Events"/> and to
/// whoever waits for them. Every wait has a time limit on the injected clock, and when the
/// connection ends every waiter fails at once with the reason: nothing hangs on a dead QEMU.
/// </summary>
public sealed class QmpClient : IQmpClient
{
    // A QMP message is one line; schema queries run to a few hundred KiB, so this leaves ample room.
    private const int MaxMessageBytes = 16 << 20;
    private const int EventBacklog = 1024;

    private readonly Stream _stream;
    private readonly TimeProvider _time;
    private readonly TimeSpan _defaultTimeout;
    private readonly QmpLineReader _reader;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Lock _lock = new();
    private readonly Dictionary<long, PendingCommand> _pending = [];
    private readonly List<EventWaiter> _waiters = [];
    private readonly Channel<QmpEvent> _events = Channel.CreateBounded<QmpEvent>(new BoundedChannelOptions(EventBacklog)
    {
        FullMode = BoundedChannelFullMode.DropOldest,
        SingleWriter = true,
    });

    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private long _nextId;
    private long _lateReplies;
    private QmpConnectionClosedException? _closedReason;
    private Task _readLoop = Task.CompletedTask;

    private QmpClient(Stream stream, TimeProvider time, TimeSpan defaultTimeout)
    {
        _stream = stream;
        _time = time;
        _defaultTimeout = defaultTimeout;
        _reader = new QmpLineReader(stream, MaxMessageBytes);
    }

    public QemuVersion Version { get; private set; } = new(0, 0, 0, "");

    public ChannelReader<QmpEvent> Events => _events.Reader;

    public Task Closed => _closed.Task;

    /// <summary>Answers that came after their command had timed out (and were dropped).</summary>
    public long LateReplies => Interlocked.Read(ref _lateReplies);

    /// <summary>Connects to QEMU's QMP socket (QEMU listening) and negotiates.</summary>
    public static async Task<QmpClient> ConnectAsync(string socketPath, TimeSpan timeout, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new QmpConnectionClosedException($"cannot connect to QMP at {socketPath}: {e.Message}", e);
        }

        return await OpenAsync(new NetworkStream(socket, ownsSocket: true), timeout, time, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Takes over a connected stream: waits for the greeting, sends <c>qmp_capabilities</c> and
    /// returns once QEMU accepted it (command mode). Disposes the stream if negotiation fails.
    /// </summary>
    public static async Task<QmpClient> OpenAsync(Stream stream, TimeSpan timeout, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        var client = new QmpClient(stream, time ?? TimeProvider.System, timeout);
        try
        {
            await client.ReadGreetingAsync(cancellationToken).ConfigureAwait(false);
            client._readLoop = Task.Run(client.ReadLoopAsync, CancellationToken.None);
            await client.ExecuteAsync("qmp_capabilities", cancellationToken: cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async Task<JsonElement> ExecuteAsync(string command, JsonObject? arguments = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        TimeSpan limit = timeout ?? _defaultTimeout;
        var pending = new PendingCommand(command);
        long id;
        lock (_lock)
        {
            if (_closedReason is not null)
            {
                throw new QmpConnectionClosedException($"cannot send {command}: {_closedReason.Message}", _closedReason);
            }

            id = ++_nextId;
            _pending[id] = pending;
        }

        // The timer and the caller's token both end the wait; a reply that comes later is dropped.
        using ITimer timer = _time.CreateTimer(_ => Abandon(id, new QmpTimeoutException(command, limit)), null, limit, Timeout.InfiniteTimeSpan);
        using CancellationTokenRegistration registration = cancellationToken.Register(() => Abandon(id, new OperationCanceledException(cancellationToken)));
        try
        {
            await WriteAsync(Serialize(id, command, arguments)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
        {
            var closed = new QmpConnectionClosedException($"QMP connection lost while sending {command}: {e.Message}", e);
            Close(closed);
        }

        return await pending.Result.Task.ConfigureAwait(false);
    }

    public Task<QmpEvent> WaitForEventAsync(Func<QmpEvent, bool> match, string description, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(match);
        TimeSpan limit = timeout ?? _defaultTimeout;
        var waiter = new EventWaiter(match);
        lock (_lock)
        {
            if (_closedReason is not null)
            {
                return Task.FromException<QmpEvent>(new QmpConnectionClosedException($"cannot wait for {description}: {_closedReason.Message}", _closedReason));
            }

            _waiters.Add(waiter);
        }

        ITimer timer = _time.CreateTimer(_ => EndWait(waiter, new QmpTimeoutException(description, limit)), null, limit, Timeout.InfiniteTimeSpan);
        CancellationTokenRegistration registration = cancellationToken.Register(() => EndWait(waiter, new OperationCanceledException(cancellationToken)));
        _ = waiter.Result.Task.ContinueWith(
            _ =>
            {
                timer.Dispose();
                registration.Dispose();
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return waiter.Result.Task;
    }

    public async ValueTask DisposeAsync()
    {
        Close(new QmpConnectionClosedException("the QMP client was closed"), byUs: true);
        await _stop.CancelAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
        try
        {
            await _readLoop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The read loop ends by cancellation when we close; nothing to report.
        }

        _stop.Dispose();
        _writeLock.Dispose();
    }

    private static byte[] Serialize(long id, string command, JsonObject? arguments)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("execute"u8, command);
            if (arguments is not null)
            {
                writer.WritePropertyName("arguments"u8);
                arguments.WriteTo(writer);
            }

            writer.WriteNumber("id"u8, id);
            writer.WriteEndObject();
        }

        buffer.Write("\n"u8);
        return buffer.WrittenSpan.ToArray();
    }

    private async Task ReadGreetingAsync(CancellationToken cancellationToken)
    {
        using var limit = new CancellationTokenSource(_defaultTimeout, _time);
        using var both = CancellationTokenSource.CreateLinkedTokenSource(limit.Token, cancellationToken);
        ReadOnlyMemory<byte>? line;
        try
        {
            line = await _reader.ReadLineAsync(both.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new QmpTimeoutException("the QMP greeting", _defaultTimeout);
        }
        catch (IOException e)
        {
            throw new QmpConnectionClosedException($"QMP connection lost before the greeting: {e.Message}", e);
        }

        if (line is null)
        {
            throw new QmpConnectionClosedException("QEMU closed the QMP connection before its greeting");
        }

        try
        {
            using JsonDocument greeting = JsonDocument.Parse(line.Value);
            if (!greeting.RootElement.TryGetProperty("QMP", out JsonElement qmp))
            {
                throw new QmpProtocolException("the first QMP message is not a greeting");
            }

            Version = ParseVersion(qmp);
        }
        catch (JsonException e)
        {
            throw new QmpProtocolException($"the QMP greeting is not JSON: {e.Message}", e);
        }
    }

    private static QemuVersion ParseVersion(JsonElement qmp)
    {
        if (!qmp.TryGetProperty("version", out JsonElement version))
        {
            return new QemuVersion(0, 0, 0, "");
        }

        JsonElement numbers = version.TryGetProperty("qemu", out JsonElement q) ? q : default;
        int Number(string name) => numbers.ValueKind == JsonValueKind.Object && numbers.TryGetProperty(name, out JsonElement n) && n.TryGetInt32(out int v) ? v : 0;
        string package = version.TryGetProperty("package", out JsonElement p) && p.ValueKind == JsonValueKind.String ? p.GetString() ?? "" : "";
        return new QemuVersion(Number("major"), Number("minor"), Number("micro"), package.Trim());
    }

    private async Task ReadLoopAsync()
    {
        QmpConnectionClosedException reason;
        try
        {
            while (true)
            {
                ReadOnlyMemory<byte>? line = await _reader.ReadLineAsync(_stop.Token).ConfigureAwait(false);
                if (line is null)
                {
                    reason = new QmpConnectionClosedException("QEMU closed the QMP connection (it exited or was killed)");
                    break;
                }

                if (!line.Value.Span.Trim(" \t"u8).IsEmpty)
                {
                    Dispatch(line.Value);
                }
            }
        }
        catch (OperationCanceledException)
        {
            return;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
        {
            reason = new QmpConnectionClosedException($"QMP connection lost: {e.Message}", e);
        }
        catch (QmpProtocolException e)
        {
            reason = new QmpConnectionClosedException($"QMP connection dropped: {e.Message}", e);
        }

        Close(reason);
    }

    private void Dispatch(ReadOnlyMemory<byte> line)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw new QmpProtocolException($"QEMU sent a message that is not JSON: {e.Message}", e);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new QmpProtocolException("QEMU sent a QMP message that is not a JSON object");
            }

            if (root.TryGetProperty("event", out JsonElement name))
            {
                OnEvent(ReadEvent(root, name));
                return;
            }

            bool isReturn = root.TryGetProperty("return", out JsonElement value);
            bool isError = root.TryGetProperty("error", out JsonElement error);
            if (!isReturn && !isError)
            {
                throw new QmpProtocolException("QEMU sent a QMP message that is neither an event nor an answer");
            }

            // An answer without our id (QEMU could not parse what it got) or to a command that
            // already timed out: nobody waits for it.
            if (!root.TryGetProperty("id", out JsonElement idElement) || !idElement.TryGetInt64(out long id) || !TryTake(id, out PendingCommand? pending))
            {
                Interlocked.Increment(ref _lateReplies);
                return;
            }

            if (isReturn)
            {
                pending.Result.TrySetResult(value.Clone());
            }
            else
            {
                pending.Result.TrySetException(ReadError(pending.Command, error));
            }
        }
    }

    private static QmpEvent ReadEvent(JsonElement root, JsonElement name)
    {
        JsonElement data = root.TryGetProperty("data", out JsonElement d) ? d.Clone() : default;
        DateTimeOffset at = DateTimeOffset.UnixEpoch;
        if (root.TryGetProperty("timestamp", out JsonElement stamp)
            && stamp.TryGetProperty("seconds", out JsonElement seconds) && seconds.TryGetInt64(out long s)
            && stamp.TryGetProperty("microseconds", out JsonElement micros) && micros.TryGetInt64(out long us))
        {
            at = DateTimeOffset.FromUnixTimeSeconds(s).AddTicks(us * 10);
        }

        return new QmpEvent(name.GetString() ?? "", data, at);
    }

    private static QmpCommandException ReadError(string command, JsonElement error)
    {
        string cls = error.TryGetProperty("class", out JsonElement c) && c.ValueKind == JsonValueKind.String ? c.GetString() ?? "" : "";
        string description = error.TryGetProperty("desc", out JsonElement d) && d.ValueKind == JsonValueKind.String ? d.GetString() ?? "" : "";
        QmpErrorClass errorClass = Enum.TryParse(cls, ignoreCase: false, out QmpErrorClass parsed) ? parsed : QmpErrorClass.Unknown;
        return new QmpCommandException(command, errorClass, description);
    }

    private void OnEvent(QmpEvent qmpEvent)
    {
        List<EventWaiter>? matched = null;
        lock (_lock)
        {
            foreach (EventWaiter waiter in _waiters)
            {
                if (waiter.Match(qmpEvent))
                {
                    (matched ??= []).Add(waiter);
                }
            }

            if (matched is not null)
            {
                _waiters.RemoveAll(matched.Contains);
            }
        }

        // Completed outside the lock: continuations run asynchronously anyway.
        foreach (EventWaiter waiter in matched ?? [])
        {
            waiter.Result.TrySetResult(qmpEvent);
        }

        _events.Writer.TryWrite(qmpEvent);
    }

    private bool TryTake(long id, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out PendingCommand? pending)
    {
        lock (_lock)
        {
            return _pending.Remove(id, out pending);
        }
    }

    private void Abandon(long id, Exception reason)
    {
        if (TryTake(id, out PendingCommand? pending))
        {
            pending.Result.TrySetException(reason);
        }
    }

    private void EndWait(EventWaiter waiter, Exception reason)
    {
        lock (_lock)
        {
            if (!_waiters.Remove(waiter))
            {
                return;
            }
        }

        waiter.Result.TrySetException(reason);
    }

    private async Task WriteAsync(byte[] message)
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            await _stream.WriteAsync(message).ConfigureAwait(false);
            await _stream.FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private void Close(QmpConnectionClosedException reason, bool byUs = false)
    {
        List<PendingCommand> pending;
        List<EventWaiter> waiters;
        lock (_lock)
        {
            if (_closedReason is not null)
            {
                return;
            }

            _closedReason = reason;
            pending = [.. _pending.Values];
            _pending.Clear();
            waiters = [.. _waiters];
            _waiters.Clear();
        }

        foreach (PendingCommand command in pending)
        {
            command.Result.TrySetException(new QmpConnectionClosedException($"no answer to {command.Command}: {reason.Message}", reason));
        }

        foreach (EventWaiter waiter in waiters)
        {
            waiter.Result.TrySetException(reason);
        }

        _events.Writer.TryComplete();
        if (byUs)
        {
            _closed.TrySetResult();
        }
        else
        {
            _closed.TrySetException(reason);
        }
    }

    private sealed class PendingCommand(string command)
    {
        public string Command { get; } = command;

        public TaskCompletionSource<JsonElement> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class EventWaiter(Func<QmpEvent, bool> match)
    {
        public Func<QmpEvent, bool> Match { get; } = match;

        public TaskCompletionSource<QmpEvent> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
