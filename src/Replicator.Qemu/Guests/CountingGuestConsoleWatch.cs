namespace Replicator.Qemu.Guests;

/// <summary>Waits for a counting guest's console log (a daemon's <c>vm-console.log</c>) to show enough counters.</summary>
public static class CountingGuestConsoleWatch
{
    /// <summary>
    /// The counters of <paramref name="consoleLog"/> once <paramref name="enough"/> holds for them
    /// (see <see cref="WaitAsync(string, Func{bool}, Task, CancellationToken)"/>).
    /// </summary>
    public static async Task<IReadOnlyList<long>> WaitAsync(string consoleLog, Func<IReadOnlyList<long>, bool> enough, Task givingUp, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(enough);
        IReadOnlyList<long> counters = [];
        await WaitAsync(consoleLog, () => enough(counters = CountingGuest.Counters(consoleLog)), givingUp, cancellation).ConfigureAwait(false);
        return counters;
    }

    /// <summary>
    /// Until <paramref name="done"/> holds, asked again each time <paramref name="consoleLog"/>
    /// changes (a filesystem watch, no clock in the loop). Fails with
    /// <see cref="InvalidOperationException"/> if <paramref name="givingUp"/> (say, the process that
    /// writes the log exiting) completes first; <paramref name="cancellation"/> bounds the wait.
    /// </summary>
    public static async Task WaitAsync(string consoleLog, Func<bool> done, Task givingUp, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(done);
        using var changed = new SemaphoreSlim(0);
        using var watcher = new FileSystemWatcher(Path.GetDirectoryName(Path.GetFullPath(consoleLog))!, Path.GetFileName(consoleLog))
        {
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size,
        };
        FileSystemEventHandler wake = (_, _) => changed.Release();
        watcher.Changed += wake;
        watcher.Created += wake;
        watcher.EnableRaisingEvents = true;

        // Asked after the watch is on: a change between the two is not missed.
        while (!done())
        {
            Task next = changed.WaitAsync(cancellation);
            if (await Task.WhenAny(next, givingUp).ConfigureAwait(false) != next)
            {
                throw new InvalidOperationException($"gave up waiting on {consoleLog}: its writer stopped");
            }

            await next.ConfigureAwait(false);
        }
    }
}
