namespace Replicator.Qemu.Guests;

/// <summary>Waits for a counting guest's console log (a daemon's <c>vm-console.log</c>) to show enough counters.</summary>
public static class CountingGuestConsoleWatch
{
    /// <summary>
    /// The counters of <paramref name="consoleLog"/> once <paramref name="enough"/> holds for them,
    /// looked at again each time the file changes (a filesystem watch, no clock in the loop). Fails
    /// with <see cref="InvalidOperationException"/> if <paramref name="givingUp"/> (say, the process
    /// that writes the log exiting) completes first; <paramref name="cancellation"/> bounds the wait.
    /// </summary>
    public static async Task<IReadOnlyList<long>> WaitAsync(string consoleLog, Func<IReadOnlyList<long>, bool> enough, Task givingUp, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(enough);
        using var changed = new SemaphoreSlim(0);
        using var watcher = new FileSystemWatcher(Path.GetDirectoryName(Path.GetFullPath(consoleLog))!, Path.GetFileName(consoleLog))
        {
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size,
        };
        FileSystemEventHandler wake = (_, _) => changed.Release();
        watcher.Changed += wake;
        watcher.Created += wake;
        watcher.EnableRaisingEvents = true;

        // Read after the watch is on: a change between the two is not missed.
        IReadOnlyList<long> counters = CountingGuest.Counters(consoleLog);
        while (!enough(counters))
        {
            Task next = changed.WaitAsync(cancellation);
            if (await Task.WhenAny(next, givingUp).ConfigureAwait(false) != next)
            {
                throw new InvalidOperationException($"gave up waiting on {consoleLog}: its writer stopped after {counters.Count} counters");
            }

            await next.ConfigureAwait(false);
            counters = CountingGuest.Counters(consoleLog);
        }

        return counters;
    }
}
