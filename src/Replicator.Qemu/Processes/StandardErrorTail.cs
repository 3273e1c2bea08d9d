namespace Replicator.Qemu.Processes;

/// <summary>The last lines QEMU wrote to its standard error (bounded), for the message when it fails.</summary>
internal sealed class StandardErrorTail
{
    private const int MaxLines = 32;
    private readonly Lock _lock = new();
    private readonly Queue<string> _lines = new();

    public void Add(string? line)
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            return;
        }

        lock (_lock)
        {
            _lines.Enqueue(line);
            if (_lines.Count > MaxLines)
            {
                _lines.Dequeue();
            }
        }
    }

    public string Text()
    {
        lock (_lock)
        {
            return _lines.Count == 0 ? "(nothing on its standard error)" : string.Join(" | ", _lines);
        }
    }
}
