using Replicator.Qemu.Guests;
using Xunit.Abstractions;

namespace Replicator.EndToEnd.Tests.Vm;

/// <summary>
/// A secondary killed (SIGKILL) under a running guest and started again on its state directory:
/// the primary runs on unprotected, the guest never stops, the pair heals by a resync, and a
/// failover after it resumes the guest from a checkpoint taken since.
/// </summary>
public sealed class VmSecondaryRestartTests(ITestOutputHelper output)
{
    private const string Degraded = "replication degraded, the guest runs unprotected";
    private const string ProtectedAgain = "resync complete: the pair is protected again";

    [VmFact]
    public async Task A_secondary_killed_and_restarted_under_a_running_guest_is_resynced_and_takes_over_from_a_later_checkpoint()
    {
        await using VmPair pair = await VmPair.StartAsync();
        await GuestConsole.WaitForCountersAsync(pair.PrimaryConsole, 20, "the guest counting on the primary", pair.Primary);
        long beforeKill = await pair.CheckpointAcrossAsync(40);

        // The secondary runs no QEMU until it is promoted: killing its tree kills the daemon alone.
        int degradedBefore = pair.Primary.OutputOccurrences(Degraded);
        int resyncsBefore = pair.Primary.OutputOccurrences(ProtectedAgain);
        pair.Secondary.Kill();
        await pair.Secondary.WaitForExitAsync();
        await pair.Primary.WaitForOutputAsync(Degraded, degradedBefore + 1);

        // Unprotected, the primary goes on and so does its guest; it has nothing to checkpoint to.
        int printedWhenDegraded = CountingGuest.Counters(pair.PrimaryConsole).Count;
        await GuestConsole.WaitForCountersAsync(pair.PrimaryConsole, printedWhenDegraded + 10, "the guest counting while the pair is degraded", pair.Primary);
        (int code, string refused) = await ReplicatorProcess.RunAsync("checkpoint", "--state-dir", pair.Daemons.PrimaryState);
        Assert.True(code != 0 && refused.Contains("degraded", StringComparison.Ordinal), $"a checkpoint without the secondary answered {code}: {refused}");

        // The same secondary again: the primary reconnects, resyncs it, and checkpoints are acknowledged again.
        await pair.RestartSecondaryAsync();
        await pair.Primary.WaitForOutputAsync(ProtectedAgain, resyncsBefore + 1);
        long afterResync = await pair.CheckpointAcrossAsync(20);
        Assert.True(afterResync > beforeKill + 20, $"checkpoint {afterResync} acknowledged after the resync, not 20 past {beforeKill}, the last before the secondary was killed");
        output.WriteLine($"acknowledged {beforeKill} before the secondary was killed, {afterResync} after its resync");

        await ResumedGuestCheck.FailOverAndCheckAsync(pair, output);
    }
}
