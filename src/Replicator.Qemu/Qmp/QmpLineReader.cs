namespace Replicator.Qemu.Qmp;

/// <summary>
/// Splits QMP's stream into messages: QEMU ends each JSON object with a newline. The buffer is
/// bounded so a runaway peer fails the connection instead of growing memory without end.
/// </summary>
internal sealed class QmpLineReader(Stream stream, int maxLineBytes)
{
    private byte[] _buffer = new byte[8192];
    private int _start;
    private int _end;
    private int _scanned;

    /// <summary>The next line without its line ending, valid until the next call; null at end of stream.</summary>
    public async ValueTask<ReadOnlyMemory<byte>?> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            int newline = _buffer.AsSpan(_scanned, _end - _scanned).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                int lineEnd = _scanned + newline;
                var line = new ReadOnlyMemory<byte>(_buffer, _start, lineEnd - _start);
                _start = _scanned = lineEnd + 1;
                return line.Span.EndsWith("\r"u8) ? line[..^1] : line;
            }

            _scanned = _end;
            MakeRoom();
            int read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return null;
            }

            _end += read;
        }
    }

    private void MakeRoom()
    {
        if (_end < _buffer.Length)
        {
            return;
        }

        int held = _end - _start;
        if (held >= maxLineBytes)
        {
            throw new QmpProtocolException($"QEMU sent a message longer than {maxLineBytes} bytes without a line end");
        }

        // Move the unfinished line to the front, or grow if it already fills the buffer.
        byte[] target = held * 2 > _buffer.Length ? new byte[Math.Min(_buffer.Length * 2, maxLineBytes + 1)] : _buffer;
        Buffer.BlockCopy(_buffer, _start, target, 0, held);
        _buffer = target;
        _scanned -= _start;
        _end = held;
        _start = 0;
    }
}
