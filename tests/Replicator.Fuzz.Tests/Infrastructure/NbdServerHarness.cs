using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Replicator.Nbd;

namespace Replicator.Fuzz.Tests.Infrastructure;

/// <summary>
/// The real <see cref="NbdServer"/> on a loopback port, fed one client byte stream per connection:
/// the harness connects, sends the bytes, half-closes, and reads until the server closes. Then it
/// checks what the server did against the protocol (<see cref="NbdReplyModel"/>), its log (no
/// connection may fail unexpectedly), and the backend (never called outside the export).
/// </summary>
internal sealed class NbdServerHarness : IAsyncDisposable
{
    public const long ExportSize = 1 << 20;

    /// <summary>The backend's largest call.</summary>
    public const int MaxRequest = 8192;

    /// <summary>The export's maximum payload: twice the backend's, so reads and writes get split too.</summary>
    public const int MaxPayload = 2 * MaxRequest;

    /// <summary>Per input, all threads together: what a client's bytes may make the server allocate (its receive buffer is 64 KiB, an option at most 64 KiB).</summary>
    public const long MaxAllocatedBytes = 16L << 20;

    private readonly NbdServer _server;
    private readonly RecordingLogger _log = new();
    private readonly CheckingBackend _backend = new();
    private readonly ConcurrentQueue<Exception> _unobserved = new();
    private long _connections;

    public NbdServerHarness()
    {
        TaskScheduler.UnobservedTaskException += OnUnobserved;
        _server = new NbdServer(_backend, new NbdServerOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, 0), ExportName = "disk", Description = "fuzzed export", MaxPayloadBytes = MaxPayload }, _log);
        _server.Start();
    }

    /// <summary>Runs one client byte stream; returns an outcome label, throws <see cref="FuzzPropertyException"/> on a broken property.</summary>
    public async Task<string> RunAsync(byte[] input)
    {
        long connection = Interlocked.Increment(ref _connections);
        long allocatedBefore = GC.GetTotalAllocatedBytes();
        byte[] received;
        using (var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true })
        {
            await client.ConnectAsync(_server.LocalEndPoint);
            Task<byte[]> receiving = ReceiveAllAsync(client);
            try
            {
                await client.SendAsync(input, SocketFlags.None);
                client.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
                // The server closed first (a violation early in the stream): what it sent still counts.
            }

            received = await receiving;
        }

        long allocated = GC.GetTotalAllocatedBytes() - allocatedBefore;
        if (allocated > MaxAllocatedBytes)
        {
            throw new FuzzPropertyException("memory", $"{input.Length} client bytes made {allocated} bytes of allocations");
        }

        // The server logs why a connection ended before it closes the socket: the reason is there now.
        (int EventId, string Message, Exception? Exception)[] entries = _log.For(connection);
        if (entries.Concat(_log.Server()).FirstOrDefault(e => e.EventId is RecordingLogger.ConnectionFailed or RecordingLogger.BackendFailed or RecordingLogger.AcceptFailed) is { Message: not null } failure)
        {
            throw new FuzzPropertyException("crash", $"{failure.Message}: {failure.Exception}");
        }

        string? ending = entries.LastOrDefault(e => e.EventId is RecordingLogger.Closed or RecordingLogger.Violation).Message;
        if (ending is null)
        {
            throw new FuzzPropertyException("close", $"connection {connection} closed without saying why (log: {string.Join(" | ", entries.Select(e => e.Message))})");
        }

        if (_backend.TakeViolation() is { } violation)
        {
            throw new FuzzPropertyException("backend", $"the backend was called outside the export: {violation}");
        }

        if (_unobserved.TryDequeue(out Exception? unobserved))
        {
            throw new FuzzPropertyException("unobserved", unobserved.ToString());
        }

        string outcome = NbdReplyModel.Check(input, received);
        return $"{outcome}; {(entries.Any(e => e.EventId == RecordingLogger.Violation) ? "closed by the server" : "closed by the client")}";
    }

    /// <summary>After a run: the server still serves a well-behaved client, and stops cleanly.</summary>
    public async Task ExpectAliveAndStopAsync()
    {
        byte[] probe = [.. NbdWire.GoPrefix, .. NbdWire.Request(0, NbdWire.CmdRead, 1, 0, 512), .. NbdWire.Request(0, NbdWire.CmdDisconnect, 2, 0, 0)];
        string outcome = await RunAsync(probe);
        Assert.StartsWith("transmission, 1 replies", outcome, StringComparison.Ordinal);
        using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _server.StopAsync(stopping.Token);
        Assert.Equal(0, _server.ConnectionCount);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.True(_unobserved.IsEmpty, string.Join("\n", _unobserved));
    }

    public async ValueTask DisposeAsync()
    {
        TaskScheduler.UnobservedTaskException -= OnUnobserved;
        await _server.DisposeAsync();
    }

    private void OnUnobserved(object? sender, UnobservedTaskExceptionEventArgs e) => _unobserved.Enqueue(e.Exception);

    private static async Task<byte[]> ReceiveAllAsync(Socket client)
    {
        var received = new MemoryStream();
        byte[] buffer = new byte[64 << 10];
        try
        {
            while (true)
            {
                int read = await client.ReceiveAsync(buffer, SocketFlags.None);
                if (read == 0)
                {
                    break;
                }

                received.Write(buffer, 0, read);
            }
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
        {
            // The server closed with client bytes unread: a reset. What arrived before it counts.
        }

        return received.ToArray();
    }

    /// <summary>A backend in memory that records any call outside the export or its limits instead of failing it.</summary>
    private sealed class CheckingBackend : INbdBackend
    {
        private readonly byte[] _data = new byte[ExportSize];
        private string? _violation;

        public long Size => ExportSize;

        public int MaxRequestBytes => MaxRequest;

        public bool IsReadOnly => false;

        public string? TakeViolation() => Interlocked.Exchange(ref _violation, null);

        public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
        {
            if (Valid("read", offset, destination.Length))
            {
                _data.AsSpan((int)offset, destination.Length).CopyTo(destination.Span);
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, bool fua, CancellationToken cancellationToken)
        {
            if (Valid("write", offset, data.Length))
            {
                data.Span.CopyTo(_data.AsSpan((int)offset));
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask WriteZeroesAsync(long offset, int length, bool fua, CancellationToken cancellationToken)
        {
            if (Valid("write-zeroes", offset, length))
            {
                _data.AsSpan((int)offset, length).Clear();
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask TrimAsync(long offset, int length, CancellationToken cancellationToken)
        {
            if (Valid("trim", offset, length))
            {
                _data.AsSpan((int)offset, length).Clear();
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask<int> DescribeAllocationAsync(long offset, long length, Memory<Nbd.Protocol.NbdExtent> extents, CancellationToken cancellationToken)
        {
            if (!Valid("block status", offset, length, unbounded: true) || extents.IsEmpty)
            {
                return ValueTask.FromResult(0);
            }

            // Alternating 4 KiB data and hole extents, so replies carry several descriptors.
            int count = 0;
            for (long at = offset; at < offset + length && count < extents.Length; count++)
            {
                long next = Math.Min((at / 4096 + 1) * 4096, offset + length);
                extents.Span[count] = new Nbd.Protocol.NbdExtent(next - at, at / 4096 % 2 == 0 ? Nbd.Protocol.NbdExtentState.Data : Nbd.Protocol.NbdExtentState.Hole | Nbd.Protocol.NbdExtentState.Zero);
                at = next;
            }

            return ValueTask.FromResult(count);
        }

        public ValueTask PrefetchAsync(long offset, long length, CancellationToken cancellationToken)
        {
            Valid("cache", offset, length, unbounded: true);
            return ValueTask.CompletedTask;
        }

        private bool Valid(string call, long offset, long length, bool unbounded = false)
        {
            bool valid = offset >= 0 && length > 0 && (unbounded || length <= MaxRequest) && offset % 512 == 0 && length % 512 == 0 && offset + length <= ExportSize;
            if (!valid)
            {
                Interlocked.CompareExchange(ref _violation, $"{call} {offset}+{length}", null);
            }

            return valid;
        }
    }

    /// <summary>Keeps each connection's log entries (by the ConnectionId the server's messages carry).</summary>
    private sealed class RecordingLogger : ILogger
    {
        public const int Closed = 4;
        public const int Violation = 5;
        public const int BackendFailed = 7;
        public const int AcceptFailed = 9;
        public const int ConnectionFailed = 12;

        private readonly ConcurrentDictionary<long, ConcurrentQueue<(int, string, Exception?)>> _entries = new();

        public (int EventId, string Message, Exception? Exception)[] For(long connection) =>
            _entries.TryRemove(connection, out var entries) ? [.. entries] : [];

        /// <summary>The server's own entries (listening, accepting): not tied to a connection.</summary>
        public (int EventId, string Message, Exception? Exception)[] Server() =>
            _entries.TryGetValue(0, out var entries) ? [.. entries] : [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            long connection = 0;
            if (state is IReadOnlyList<KeyValuePair<string, object?>> fields)
            {
                foreach (KeyValuePair<string, object?> field in fields)
                {
                    if (field.Key == "ConnectionId" && field.Value is long id)
                    {
                        connection = id;
                    }
                }
            }

            _entries.GetOrAdd(connection, _ => new()).Enqueue((eventId.Id, formatter(state, exception), exception));
        }
    }
}
