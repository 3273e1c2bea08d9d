using Replicator.Qemu.Guests;

namespace Replicator.EndToEnd.Tests.Vm;

/// <summary>
/// Waits on the counting guest's serial console as a daemon appends it to <c>vm-console.log</c>,
/// failing with the daemon's output when it exits or the bound passes first.
/// </summary>
internal static class GuestConsole
{
    /// <summary>Bound of a wait on the guest (never an assertion about speed): TCG on two shared cores is slow.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromMinutes(3);

    /// <summary>Until the console holds <paramref name="count"/> counter lines.</summary>
    public static Task WaitForCountersAsync(string console, int count, string what, ReplicatorProcess daemon) =>
        WaitUntilAsync(console, () => CountingGuest.Counters(console).Count >= count, what, daemon);

    /// <summary>Until the console reports heavy-write pass <paramref name="pass"/> done.</summary>
    public static Task WaitForHeavyPassAsync(string console, long pass, string what, ReplicatorProcess daemon) =>
        WaitUntilAsync(console, () => CountingGuest.HeavyPasses(console) >= pass, what, daemon);

    private static async Task WaitUntilAsync(string console, Func<bool> done, string what, ReplicatorProcess daemon)
    {
        using var bound = new CancellationTokenSource(Bound);
        try
        {
            await CountingGuestConsoleWatch.WaitAsync(console, done, daemon.WhenExited(), bound.Token);
        }
        catch (InvalidOperationException)
        {
            Assert.Fail($"the daemon exited while waiting for {what}:\n{daemon.Output}");
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"not seen within {Bound.TotalMinutes} minutes: {what}\n{daemon.Output}");
        }
    }
}
