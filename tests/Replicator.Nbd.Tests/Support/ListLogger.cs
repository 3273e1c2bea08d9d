using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Replicator.Nbd.Tests.Support;

/// <summary>
/// Keeps every log line, so a test can check that a closed connection said why, or wait for the
/// server to reach a point it logs (no polling, no sleeps).
/// </summary>
internal sealed class ListLogger : ILogger
{
    private readonly object _gate = new();
    private readonly List<(string Text, TaskCompletionSource Logged)> _waiters = [];

    public ConcurrentQueue<(LogLevel Level, string Message)> Entries { get; } = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        string message = formatter(state, exception);
        lock (_gate)
        {
            Entries.Enqueue((logLevel, message));
            foreach ((string text, TaskCompletionSource logged) in _waiters)
            {
                if (message.Contains(text, StringComparison.Ordinal))
                {
                    logged.TrySetResult();
                }
            }
        }
    }

    public bool Contains(LogLevel level, string text) =>
        Entries.Any(entry => entry.Level == level && entry.Message.Contains(text, StringComparison.Ordinal));

    /// <summary>Completes once a line containing <paramref name="text"/> has been logged (fails after <see cref="Deadline.Wait"/>).</summary>
    public Task WaitForAsync(string text)
    {
        lock (_gate)
        {
            var logged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (Entries.Any(entry => entry.Message.Contains(text, StringComparison.Ordinal)))
            {
                logged.SetResult();
            }
            else
            {
                _waiters.Add((text, logged));
            }

            return logged.Task.WaitAsync(Deadline.Wait);
        }
    }

    public override string ToString() => string.Join(Environment.NewLine, Entries.Select(entry => $"{entry.Level}: {entry.Message}"));
}
