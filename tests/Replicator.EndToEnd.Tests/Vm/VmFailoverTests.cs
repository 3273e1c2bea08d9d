using Xunit.Abstractions;

namespace Replicator.EndToEnd.Tests.Vm;

/// <summary>
/// The pair protecting a real QEMU guest: the daemons run it (<c>--vm qemu</c>), the primary dies
/// with its QEMU (SIGKILL), and the promoted secondary resumes the guest from the checkpoint it
/// took over, on its own export.
/// </summary>
public sealed class VmFailoverTests(ITestOutputHelper output)
{
    [VmFact]
    public async Task A_guest_killed_with_its_primary_counts_on_from_the_checkpoint_taken_over()
    {
        await using VmPair pair = await VmPair.StartAsync();

        // The guest boots and counts; the pair checkpoints it dozens of times.
        await GuestConsole.WaitForCountersAsync(pair.PrimaryConsole, 20, "the guest counting on the primary", pair.Primary);
        await pair.CheckpointAcrossAsync(40);

        await ResumedGuestCheck.FailOverAndCheckAsync(pair, output);
    }
}
